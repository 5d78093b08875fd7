//! `cargo +nightly fuzz run answers`: see `envpack_fuzz::answers` for the properties.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    envpack_fuzz::answers(data);
});
