//! `cargo +nightly fuzz run descriptor`: see `envpack_fuzz::descriptor` for the properties.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    envpack_fuzz::descriptor(data);
});
