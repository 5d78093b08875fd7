//! `cargo +nightly fuzz run capability`: see `envpack_fuzz::capability` for the properties.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    envpack_fuzz::capability(data);
});
