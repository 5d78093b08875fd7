//! A pack's POST with a body: the server gets the body with its length
//! (a real Python `http.server`, which reads `Content-Length` and nothing
//! else), and a refused request fails as refused, never as a broken
//! connection.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use envpack_e2e::Env;
use envpack_e2e::hostile::hostile_environment;

use super::BIN;

/// Python's `http.server`, answering each POST with the request's
/// `Content-Length` and `Transfer-Encoding` headers and the bytes it read.
const SERVER: &str = r#"
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = self.headers.get("Content-Length")
        te = self.headers.get("Transfer-Encoding")
        got = len(self.rfile.read(int(length))) if length else 0
        if te == "chunked":
            # Read the whole chunked body before answering: answering and
            # closing first would reset a client still writing it.
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                got += len(self.rfile.read(size))
                self.rfile.readline()
                if size == 0:
                    break
        body = f"content-length={length} transfer-encoding={te} got={got}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True
    def log_message(self, *args):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// A running `http.server`, killed when dropped.
struct Python(Child, u16);

impl Python {
    fn start() -> Self {
        let mut child = Command::new("python3")
            .args(["-c", SERVER])
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 runs (the test's HTTP server)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap();
        Self(child, port)
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn post(env: &Env, url: &str, bytes: &str, stream: bool) -> envpack_e2e::Run {
    let mut args = vec!["--json", "--env", "dev", "hostile", "http-post", url, bytes];
    if stream {
        args.push("--stream");
    }
    env.run(&args)
}

#[test]
fn a_body_arrives_with_its_content_length() {
    let env = hostile_environment(BIN);
    let server = Python::start();
    let url = format!("http://127.0.0.1:{}/upload", server.1);

    let run = post(&env, &url, "100000", false);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("content-length=100000 transfer-encoding=None got=100000"),
        "{}",
        run.stdout
    );

    // An empty POST says so: content-length 0.
    let run = post(&env, &url, "0", false);
    assert!(run.stdout.contains("content-length=0 "), "{}", run.stdout);

    // Streaming stays possible: a body of unknown length goes chunked.
    let run = post(&env, &url, "5000", true);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("content-length=None transfer-encoding=chunked"),
        "{}",
        run.stdout
    );
}

/// Before the fix, the host dropped a refused request's body at once, the
/// pack's body write failed with "closed", and the pack reported
/// `unavailable: ... closed the connection` (exit 9) instead of the denial.
/// A large body makes that write certain; several runs make a race show.
#[test]
fn a_post_to_an_ungranted_host_is_denied_naming_the_grant() {
    let env = hostile_environment(BIN);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // `localhost` is not `127.0.0.1`: the environment granted only the latter.
    let url = format!("http://localhost:{port}/upload");
    for bytes in ["1000000", "10", "100000", "1000000", "0"] {
        let run = post(&env, &url, bytes, false);
        let v = run.envelope();
        assert_eq!(run.code, 4, "{bytes} bytes: {v}\n{}", run.stderr);
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("denied") || v["error"]["kind"] == "denied",
            "{v}"
        );
        assert!(message.contains(&format!("http:localhost:{port}")), "{v}");
        assert!(!message.contains("closed the connection"), "{v}");
    }
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "a refused request reached the server"
    );
}

/// A refused connection (nothing listens on a granted host's port) is
/// reported as such, not hidden behind the closed body.
#[test]
fn a_post_to_a_closed_port_is_reported_as_refused() {
    let env = hostile_environment(BIN);
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/upload");
    for bytes in ["1000000", "100000", "10"] {
        let run = post(&env, &url, bytes, false);
        let v = run.envelope();
        assert_eq!(run.code, 9, "{bytes} bytes: {v}\n{}", run.stderr);
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains("ConnectionRefused"), "{v}");
        assert!(!message.contains("closed the connection"), "{v}");
    }
}
