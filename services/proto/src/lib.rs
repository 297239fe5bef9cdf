//! The gRPC contract of `proto/fulfillment/v1`, generated at build time, and the encoded
//! file descriptor set that server reflection serves. Only the server and test clients use it.

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("fulfillment.v1");
}

/// Encoded `FileDescriptorSet` of every file in `proto/` (for gRPC reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/fulfillment_descriptor.bin"));

/// The codec of every generated service and client: prost, except that a request that does not
/// decode (truncated bytes, a string that is not UTF-8, a wrong wire type) is the caller's
/// fault and answered `INVALID_ARGUMENT`, not prost's default `INTERNAL`.
pub mod codec {
    use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
    use tonic::{Code, Status};
    use tonic_prost::ProstCodec;

    #[derive(Debug, Clone)]
    pub struct StrictProstCodec<T, U>(ProstCodec<T, U>);

    impl<T, U> Default for StrictProstCodec<T, U> {
        fn default() -> Self {
            Self(ProstCodec::default())
        }
    }

    impl<T, U> Codec for StrictProstCodec<T, U>
    where
        T: prost::Message + Send + 'static,
        U: prost::Message + Default + Send + 'static,
    {
        type Encode = T;
        type Decode = U;
        type Encoder = <ProstCodec<T, U> as Codec>::Encoder;
        type Decoder = StrictDecoder<<ProstCodec<T, U> as Codec>::Decoder>;

        fn encoder(&mut self) -> Self::Encoder {
            self.0.encoder()
        }

        fn decoder(&mut self) -> Self::Decoder {
            StrictDecoder(self.0.decoder())
        }
    }

    #[derive(Debug)]
    pub struct StrictDecoder<D>(D);

    impl<D: Decoder<Error = Status>> Decoder for StrictDecoder<D> {
        type Item = D::Item;
        type Error = Status;

        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
            self.0.decode(src).map_err(|status| {
                if status.code() == Code::Internal {
                    Status::invalid_argument(format!(
                        "the request message is malformed: {}",
                        status.message()
                    ))
                } else {
                    status
                }
            })
        }

        fn buffer_settings(&self) -> BufferSettings {
            self.0.buffer_settings()
        }
    }
}
