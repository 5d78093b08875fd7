//! Token endpoint, x-api-key, bearer and Basic auth, token expiry, company checks, and the
//! journal's record of them, over real HTTP.

use envpack_kinetic_double::client::Client;
use envpack_kinetic_double::{AuthUsed, Check, DoubleConfig, KineticDouble};
use serde_json::{Value, json};

fn start() -> KineticDouble {
    KineticDouble::start(DoubleConfig::default()).expect("start the double")
}

fn token(double: &KineticDouble) -> String {
    let answer = Client::new(&double.base_url())
        .with_api_key("test-api-key")
        .with_basic("manager", "manager")
        .post("/TokenResource.svc/", &json!({}))
        .expect("token call");
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body["AccessToken"]
        .as_str()
        .expect("AccessToken")
        .to_string()
}

fn assert_epicor_error(body: &Value, status: u16) {
    assert_eq!(body["HttpStatus"], json!(status), "{body}");
    for key in ["ReasonPhrase", "ErrorMessage", "ErrorType", "CorrelationId"] {
        assert!(
            body[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key} in {body}"
        );
    }
    assert!(
        body["ErrorDetails"]
            .as_array()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

#[test]
fn token_with_basic_auth_or_user_headers() {
    let double = start();
    let basic = Client::new(&double.base_url())
        .with_api_key("test-api-key")
        .with_basic("manager", "manager")
        .post("/TokenResource.svc/", &json!({}))
        .expect("token call");
    assert_eq!(basic.status, 200);
    assert_eq!(basic.body["TokenType"], "Bearer");
    assert_eq!(
        basic.body["ExpiresIn"],
        json!(1200),
        "ExpiresIn is a number"
    );
    let headers = Client::new(&double.base_url())
        .with_api_key("test-api-key")
        .with_header("userName", "manager")
        .with_header("password", "manager")
        .send("POST", "/TokenResource.svc/", &[], b"")
        .expect("token call");
    assert_eq!(headers.status, 200, "{:?}", headers.body);
    assert_ne!(headers.body["AccessToken"], basic.body["AccessToken"]);
    let journal = double.journal();
    assert_eq!(journal[0].auth, AuthUsed::Basic);
    assert_eq!(journal[1].auth, AuthUsed::UserHeaders);
    assert!(
        journal
            .iter()
            .all(|e| e.credential == Check::Valid && e.api_key == Check::Valid)
    );
}

#[test]
fn wrong_credentials_and_keys_answer_401_with_an_epicor_body() {
    let double = start();
    let base = double.base_url();
    let wrong_password = Client::new(&base)
        .with_api_key("test-api-key")
        .with_basic("manager", "nope")
        .post("/TokenResource.svc/", &json!({}))
        .expect("call");
    assert_eq!(wrong_password.status, 401);
    assert_epicor_error(&wrong_password.body, 401);
    let no_key = Client::new(&base)
        .with_basic("manager", "manager")
        .post("/TokenResource.svc/", &json!({}))
        .expect("call");
    assert_eq!(no_key.status, 401);
    assert_epicor_error(&no_key.body, 401);
    let token = token(&double);
    let wrong_key = Client::new(&base)
        .with_api_key("wrong-key-value")
        .with_bearer(&token)
        .post(
            "/api/v2/odata/EPIC06/Ice.BO.ExportPackageSvc/GetList",
            &json!({}),
        )
        .expect("call");
    assert_eq!(wrong_key.status, 401);
    assert_ne!(
        wrong_key.body["CorrelationId"], no_key.body["CorrelationId"],
        "fresh ids"
    );
    let text = serde_json::to_string(&wrong_key.body).expect("json");
    assert!(
        !text.contains("wrong-key-value"),
        "the key is never echoed: {text}"
    );
    let journal = double.journal();
    assert_eq!(journal[1].api_key, Check::Missing);
    assert_eq!(journal.last().map(|e| e.api_key), Some(Check::Invalid));
    let dumped = format!(
        "{:?}",
        journal.iter().map(|e| e.to_json()).collect::<Vec<_>>()
    );
    assert!(
        !dumped.contains("wrong-key-value") && !dumped.contains(&token),
        "no secrets in the journal"
    );
}

#[test]
fn odata_calls_need_a_valid_token_or_basic_auth() {
    let double = start();
    let base = double.base_url();
    let path = "/api/v2/odata/EPIC06/Ice.BO.ExportPackageSvc/GetList";
    let anonymous = Client::new(&base)
        .with_api_key("test-api-key")
        .post(path, &json!({}))
        .expect("call");
    assert_eq!(anonymous.status, 401);
    let forged = Client::new(&base)
        .with_api_key("test-api-key")
        .with_bearer("kd.forged")
        .post(path, &json!({}))
        .expect("call");
    assert_eq!(forged.status, 401);
    let basic = Client::new(&base)
        .with_api_key("test-api-key")
        .with_basic("manager", "manager")
        .post(path, &json!({}))
        .expect("call");
    assert_eq!(basic.status, 200, "{:?}", basic.body);
    let token = token(&double);
    let bearer = Client::new(&base)
        .with_api_key("test-api-key")
        .with_bearer(&token)
        .post(path, &json!({}))
        .expect("call");
    assert_eq!(bearer.status, 200);
    assert!(bearer.body["returnObj"]["ExportPackageList"].is_array());
}

#[test]
fn tokens_expire_by_control_call_and_by_ttl() {
    let double = start();
    let base = double.base_url();
    let path = "/api/v2/odata/EPIC06/Ice.BO.ExportPackageSvc/GetList";
    let issued = token(&double);
    let client = Client::new(&base)
        .with_api_key("test-api-key")
        .with_bearer(&issued);
    assert_eq!(client.post(path, &json!({})).expect("call").status, 200);
    let expired = Client::new(&base)
        .post("/_double/tokens/expire", &json!({}))
        .expect("control");
    assert_eq!(expired.status, 200);
    let after = client.post(path, &json!({})).expect("call");
    assert_eq!(after.status, 401);
    assert!(
        after.body["ErrorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("expired"))
    );
    assert_eq!(
        double.journal().last().map(|e| e.credential),
        Some(Check::Expired)
    );
    let fresh = token_client(&double);
    assert_eq!(fresh.post(path, &json!({})).expect("call").status, 200);

    let short = KineticDouble::start(DoubleConfig {
        token_ttl: std::time::Duration::ZERO,
        ..DoubleConfig::default()
    })
    .expect("start");
    let zero = token(&short);
    let answer = Client::new(&short.base_url())
        .with_api_key("test-api-key")
        .with_bearer(&zero)
        .post(path, &json!({}))
        .expect("call");
    assert_eq!(answer.status, 401, "a zero TTL token is born expired");
}

fn token_client(double: &KineticDouble) -> Client {
    Client::new(&double.base_url())
        .with_api_key("test-api-key")
        .with_bearer(&token(double))
}

#[test]
fn company_comes_from_the_path() {
    let double = start();
    let client = token_client(&double);
    let unknown = client
        .post(
            "/api/v2/odata/NOPE01/Ice.BO.ExportPackageSvc/GetList",
            &json!({}),
        )
        .expect("call");
    assert_eq!(unknown.status, 403);
    assert_epicor_error(&unknown.body, 403);
    let dev = client
        .post(
            "/api/v2/odata/EPIC06/Ice.BO.ExportPackageSvc/GetList",
            &json!({}),
        )
        .expect("call");
    let prod = client
        .post(
            "/api/v2/odata/EPIC07/Ice.BO.ExportPackageSvc/GetList",
            &json!({}),
        )
        .expect("call");
    assert_eq!(
        dev.body["returnObj"]["ExportPackageList"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        prod.body["returnObj"]["ExportPackageList"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let unknown_service = client
        .post("/api/v2/odata/EPIC06/Ice.BO.NoSuchSvc/GetList", &json!({}))
        .expect("call");
    assert_eq!(unknown_service.status, 404);
    assert_epicor_error(&unknown_service.body, 404);
    let settings = client
        .send(
            "POST",
            "/api/v2/odata/EPIC06/Ice.BO.ExportPackageSvc/GetList",
            &[("CallSettings", r#"{"Company":"EPIC06","Plant":"MfgSys"}"#)],
            b"{}",
        )
        .expect("call");
    assert_eq!(settings.status, 200);
    let last = double.journal().pop().expect("an entry");
    assert_eq!(
        last.call_settings,
        Some(json!({"Company": "EPIC06", "Plant": "MfgSys"}))
    );
    assert_eq!(last.company.as_deref(), Some("EPIC06"));
}
