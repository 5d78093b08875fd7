//! Issue 5 (the ingress part): `envpack serve` routes real HTTP traffic by
//! host/prefix, then by the split, sticky cookies or the revision header,
//! and picks up traffic changes without a restart. Revisions here are small
//! HTTP servers the test runs, registered through the recorder deployer.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::net::TcpListener;
use std::time::{Duration, Instant};

#[path = "ingress_common.rs"]
mod common;

use common::{Resp, backend, deploy, get, recorder_env, serve};

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

#[test]
fn the_ingress_splits_sticks_and_follows_traffic_changes() {
    let env = recorder_env(BIN);

    let (a, b, api) = (backend("r1"), backend("r2"), backend("api"));
    let r1 = deploy(
        &env,
        "web",
        "1.0.0",
        &[format!("endpoint=http://127.0.0.1:{a}")],
    );
    let r2 = deploy(
        &env,
        "web",
        "1.1.0",
        &[format!("endpoint=http://127.0.0.1:{b}")],
    );
    deploy(
        &env,
        "api",
        "1.0.0",
        &[
            format!("endpoint=http://127.0.0.1:{api}"),
            "prefix=/api".into(),
        ],
    );
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r1}=9900bps"),
        &format!("{r2}=100bps"),
    ]);

    // Loopback is trusted with the revision header only when told so.
    let (_server, addr) = serve(&env, &["--trust-revision-header-from", "127.0.0.1/32"]);
    let port = addr.port();

    // 1,000 requests without cookies land as the split says.
    let (mut n1, mut n2) = (0u32, 0u32);
    for _ in 0..1000 {
        let r = get(port, "/", &[]);
        assert_eq!(r.status, 200);
        match r.body.as_str() {
            "r1" => n1 += 1,
            "r2" => n2 += 1,
            other => panic!("unexpected backend {other}"),
        }
    }
    let (e1, e2) = (990.0, 10.0);
    let chi2 = (f64::from(n1) - e1).powi(2) / e1 + (f64::from(n2) - e2).powi(2) / e2;
    assert!(
        chi2 < 3.841,
        "chi-squared {chi2} for r1={n1} r2={n2} exceeds the p=0.95 critical value (1 dof)"
    );
    assert!(n2 > 0, "the 1% revision got no traffic at all");

    // The second deployment on the same ingress is unaffected.
    for _ in 0..50 {
        assert_eq!(get(port, "/api/users", &[]).body, "api");
    }

    // A client keeping its cookie stays on one revision.
    let first = get(port, "/", &[]);
    let cookie = first
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let pinned = first.body.clone();
    for _ in 0..100 {
        assert_eq!(get(port, "/", &[("Cookie", &cookie)]).body, pinned);
    }
    // A forged cookie is ignored (and replaced).
    let forged = cookie.replace(&pinned, if pinned == "r1" { "r2" } else { "r1" });
    assert!(
        get(port, "/", &[("Cookie", &forged)])
            .header("set-cookie")
            .is_some()
    );
    // Trusted callers may pick a revision with the header.
    assert_eq!(get(port, "/", &[("x-envpack-revision", &r2)]).body, "r2");

    // Shift to r2=100%: within a second every new request reaches r2,
    // and the generation bump invalidates old cookies.
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r2}=100%"),
    ]);
    let shifted = Instant::now();
    loop {
        if (0..20).all(|_| get(port, "/", &[]).body == "r2") {
            break;
        }
        assert!(
            shifted.elapsed() < Duration::from_secs(1),
            "the new split was not picked up within 1 s"
        );
    }
    assert!(shifted.elapsed() < Duration::from_secs(1));
    for _ in 0..50 {
        assert_eq!(get(port, "/", &[("Cookie", &cookie)]).body, "r2");
    }

    // A revision that stops answering is reported, not hidden.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r3 = deploy(
        &env,
        "web",
        "1.2.0",
        &[format!("endpoint=http://127.0.0.1:{dead}")],
    );
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r3}=100%"),
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let r = get(port, "/", &[]);
    assert_eq!(r.status, 502);
    assert!(
        r.body.contains(&r3) && r.body.contains("not answering"),
        "{}",
        r.body
    );
    assert_eq!(
        get(port, "/api/x", &[]).body,
        "api",
        "the other deployment keeps serving"
    );

    // Half the traffic to the dead revision: the request that finds it dead
    // is a 502 naming it; then the ingress routes only to what it reaches.
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r2}=50%"),
        &format!("{r3}=50%"),
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let answers: Vec<Resp> = (0..40).map(|_| get(port, "/", &[])).collect();
    let refused = answers.iter().filter(|r| r.status == 502).count();
    assert!(
        refused <= 1,
        "only the first request finds it dead: {refused}"
    );
    assert!(
        answers
            .iter()
            .filter(|r| r.status == 200)
            .all(|r| r.body == "r2"),
        "the rest go to the revision it can reach"
    );
}

#[test]
fn serve_prints_its_routes_and_refuses_two_deployments_on_one_prefix() {
    let env = recorder_env(BIN);
    let a = backend("a");
    deploy(
        &env,
        "web",
        "1.0.0",
        &[format!("endpoint=http://127.0.0.1:{a}")],
    );
    deploy(
        &env,
        "api",
        "1.0.0",
        &[
            format!("endpoint=http://127.0.0.1:{a}"),
            "prefix=/api".into(),
        ],
    );
    // The routes follow the listening line.
    let mut child = env
        .cmd()
        .args(["serve", "--env", "dev", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("listening on http://"), "{first}");
    let routes: Vec<String> = lines.take(2).map(|l| l.unwrap()).collect();
    let _ = child.kill();
    let _ = child.wait();
    assert!(routes[0].contains("route */api -> api"), "{routes:?}");
    assert!(
        routes[1].contains("route */ -> web") && routes[1].contains("=100%"),
        "{routes:?}"
    );
    // A second deployment on / would never be reached: refused, with how
    // to tell them apart.
    deploy(
        &env,
        "site",
        "1.0.0",
        &[format!("endpoint=http://127.0.0.1:{a}")],
    );
    let err = env.fails(5, &["serve", "--env", "dev", "--listen", "127.0.0.1:0"]);
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("site") && message.contains("web") && message.contains("both claim"),
        "{err}"
    );
    assert!(
        err["hint"].as_str().unwrap().contains("--attr prefix="),
        "{err}"
    );
}
