use std::cell::Cell;
use std::rc::Rc;

use serde_json::json;

use super::*;
use crate::fake::{self, Fake, ok, status};

#[test]
fn requests_carry_company_placeholders_and_bearer() {
    let io = Fake::new(|r| fake::token(r).unwrap_or_else(|| ok(json!({"returnObj": 1}))));
    let c = Client::new(&io, fake::settings());
    let v = c
        .call(
            "Ice.BO.ExportPackageSvc",
            "GetList",
            &json!({"whereClause": ""}),
        )
        .expect("call");
    assert_eq!(v["returnObj"], 1);
    assert_eq!(
        io.calls(),
        [
            "POST /ERP/TokenResource.svc/",
            "POST /ERP/api/v2/odata/EPIC06/Ice.BO.ExportPackageSvc/GetList"
        ]
    );
    let journal = io.journal.borrow();
    let token = &journal[0];
    assert_eq!(
        token.header("username"),
        Some("{{credential:KINETIC_USER}}")
    );
    assert_eq!(
        token.header("password"),
        Some("{{credential:KINETIC_PASSWORD}}")
    );
    assert_eq!(
        token.header("x-api-key"),
        Some("{{credential:KINETIC_API_KEY}}")
    );
    assert!(token.body.is_empty());
    let call = &journal[1];
    assert_eq!(
        call.header("x-api-key"),
        Some("{{credential:KINETIC_API_KEY}}")
    );
    assert_eq!(call.header("authorization"), Some("Bearer tok-1"));
    let cs: Value = serde_json::from_str(call.header("callsettings").expect("cs")).expect("json");
    assert_eq!(cs, json!({"Company": "EPIC06", "Plant": "MfgSys"}));
}

#[test]
fn token_is_cached_in_kv_and_refreshed_before_expiry() {
    let io = Fake::new(|r| fake::token(r).unwrap_or_else(|| ok(json!({}))));
    Client::new(&io, fake::settings())
        .call("S", "M", &json!({}))
        .expect("first");
    // A new instance (next command) reuses the stored token.
    Client::new(&io, fake::settings())
        .call("S", "M", &json!({}))
        .expect("second");
    assert_eq!(io.calls().iter().filter(|c| c.contains("Token")).count(), 1);
    // Within the refresh margin of its expiry, a new one is fetched.
    io.now.set(io.now.get() + 1_150_000);
    Client::new(&io, fake::settings())
        .call("S", "M", &json!({}))
        .expect("third");
    assert_eq!(io.calls().iter().filter(|c| c.contains("Token")).count(), 2);
}

#[test]
fn a_401_refreshes_once_then_gives_up_naming_the_secret() {
    // The server forgets the first token: one refresh, then success.
    let issued = Rc::new(Cell::new(0));
    let seen = issued.clone();
    let io = Fake::new(move |r| {
        if r.url.contains("TokenResource") {
            seen.set(seen.get() + 1);
            return ok(json!({"AccessToken": format!("tok-{}", seen.get()), "ExpiresIn": 1200}));
        }
        if r.header("authorization") == Some("Bearer tok-1") {
            status(
                401,
                json!({"HttpStatus": 401, "ErrorMessage": "token expired", "CorrelationId": "c1"}),
            )
        } else {
            ok(json!({"ok": true}))
        }
    });
    let v = Client::new(&io, fake::settings())
        .call("S", "M", &json!({}))
        .expect("refreshed");
    assert_eq!(v["ok"], true);
    assert_eq!(issued.get(), 2);
    assert_eq!(io.calls().len(), 4);

    // A key the server never accepts: denied, naming the secret, no value.
    let io = Fake::new(|r| {
        fake::token(r).unwrap_or_else(|| {
            status(401, json!({"HttpStatus": 401, "ErrorMessage": "Invalid API key", "CorrelationId": "c9"}))
        })
    });
    let e = Client::new(&io, fake::settings())
        .call("S", "M", &json!({}))
        .expect_err("denied");
    assert_eq!(e.kind(), super::super::error::HostKind::Denied);
    let text = e.to_string();
    assert!(
        text.contains("KINETIC_API_KEY") && text.contains("envpack secrets put"),
        "{text}"
    );
    assert!(text.contains("c9"), "{text}");
    assert_eq!(io.calls().len(), 4, "one refresh, one retry, no more");
}

#[test]
fn token_endpoint_refusal_names_all_credentials() {
    let io = Fake::new(|_| status(401, json!({"ErrorMessage": "bad user"})));
    let e = Client::new(&io, fake::settings())
        .call("S", "M", &json!({}))
        .expect_err("denied");
    let text = e.to_string();
    for s in ["KINETIC_API_KEY", "KINETIC_USER", "KINETIC_PASSWORD"] {
        assert!(text.contains(s), "{text}");
    }
}

#[test]
fn get_encodes_the_query() {
    let io = Fake::new(|r| fake::token(r).unwrap_or_else(|| ok(json!([]))));
    Client::new(&io, fake::settings())
        .get(
            "Ice.Lib.MetaFXSvc",
            "GetLayers",
            &[("request", r#"{"ViewId":"Erp.UI.X"}"#.into())],
        )
        .expect("get");
    let url = io.journal.borrow()[1].url.clone();
    assert!(
        url.ends_with("/Ice.Lib.MetaFXSvc/GetLayers?request=%7B%22ViewId%22%3A%22Erp.UI.X%22%7D"),
        "{url}"
    );
    assert_eq!(io.journal.borrow()[1].method, Method::Get);
}
