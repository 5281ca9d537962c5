#![no_main]
use libfuzzer_sys::fuzz_target;

// Reads every entry (and decodes every frame) as given, then again with each entry's CRC-32
// recomputed so that mutated entries reach the version 1 and version 2 decoders.
fuzz_target!(|data: &[u8]| wifi_sensing_fuzz::csirec(data));
