//! `cargo +nightly fuzz run requirement`: see `envpack_fuzz::requirement` for the properties.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    envpack_fuzz::requirement(data);
});
