//! A minimal HTTP backend for measuring the ingress: answers every request
//! with a fixed body (`ADDR [BODY]`). `cargo run --release -p envpack-host --example
//! hello_backend -- 127.0.0.1:9001` (used by `scripts/bench-ingress`).

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let body: &'static str = Box::leak(
        format!(
            "{}\n",
            std::env::args()
                .nth(2)
                .unwrap_or_else(|| "hello from the backend".into())
        )
        .into_boxed_str(),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("backend listening on {addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(
                move |_req: Request<hyper::body::Incoming>| async move {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        body.as_bytes(),
                    ))))
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
