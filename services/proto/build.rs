//! Compiles `proto/` with protox (pure Rust), so no system `protoc` is needed.
use std::path::PathBuf;

use protox::prost::Message as _;

const PROTOS: &[&str] = &[
    "fulfillment/v1/types.proto",
    "fulfillment/v1/fulfillment_service.proto",
    "fulfillment/v1/tracking_service.proto",
    "fulfillment/v1/policy_service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    for file in PROTOS {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    let fds = protox::compile(PROTOS, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("fulfillment_descriptor.bin"), fds.encode_to_vec())?;
    // Type names (`prost::Name`) let the codec find a request's descriptor to name a field.
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .codec_path("crate::codec::StrictProstCodec")
        .compile_fds_with_config(fds, config)?;
    Ok(())
}
