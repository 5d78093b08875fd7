//! `cargo +nightly fuzz run manifest_section`: see `envpack_fuzz::manifest_section` for the properties.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    envpack_fuzz::manifest_section(data);
});
