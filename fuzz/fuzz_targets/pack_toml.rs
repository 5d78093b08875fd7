//! `cargo +nightly fuzz run pack_toml`: see `envpack_fuzz::pack_toml` for the properties.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    envpack_fuzz::pack_toml(data);
});
