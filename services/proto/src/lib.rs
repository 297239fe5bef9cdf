//! The gRPC contract of `proto/fulfillment/v1`, generated at build time, and the encoded
//! file descriptor set that server reflection serves. Only the server and test clients use it.

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("fulfillment.v1");
}

/// Encoded `FileDescriptorSet` of every file in `proto/` (for gRPC reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/fulfillment_descriptor.bin"));
