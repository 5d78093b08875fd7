//! Issue 10: the `greentic.kinetic.rest` pack, through the real `envpack`
//! binary, against the Kinetic REST double over HTTP. One double per test,
//! started in-process on a free port; the pack reaches it only through the
//! host's outbound HTTP, with the credentials the host attaches.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod kinetic {
    pub mod setup;

    mod auth;
    mod conflicts;
    mod inventory;
    mod lifecycle;
    mod schema;
    mod solutions;
}
