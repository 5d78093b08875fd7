//! `cargo +nightly fuzz run bundle_manifest`: see `envpack_fuzz::bundle_manifest` for the properties.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    envpack_fuzz::bundle_manifest(data);
});
