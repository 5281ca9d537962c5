#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wifi_sensing_fuzz::spectral_spec(data));
