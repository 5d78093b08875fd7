//! The page, embedded at build time from `host/ui/`: hand-written HTML,
//! CSS and JavaScript, nothing fetched at run time.

/// One embedded file.
pub(super) struct Asset {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

const INDEX: &str = include_str!("../../ui/index.html");
const SCRIPT: &str = include_str!("../../ui/app.js");
const STYLE: &str = include_str!("../../ui/app.css");
const ICON: &str = include_str!("../../ui/icon.svg");

/// The page shown without a valid token: a form that logs in with one.
pub(super) const LOGIN: &str = include_str!("../../ui/login.html");

/// The asset served at `path`, if one.
pub(super) fn find(path: &str) -> Option<Asset> {
    let (content_type, text) = match path {
        "/" | "/index.html" => ("text/html; charset=utf-8", INDEX),
        "/app.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "/app.css" => ("text/css; charset=utf-8", STYLE),
        "/icon.svg" | "/favicon.ico" => ("image/svg+xml", ICON),
        _ => return None,
    };
    Some(Asset {
        content_type,
        bytes: text.as_bytes(),
    })
}
