//! The gRPC contract of `proto/fulfillment/v1`, generated at build time, and the encoded
//! file descriptor set that server reflection serves. Only the server and test clients use it.

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("fulfillment.v1");
}

/// Encoded `FileDescriptorSet` of every file in `proto/` (for gRPC reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/fulfillment_descriptor.bin"));

/// `google.rpc.ErrorInfo.domain` of every error this service answers.
pub const ERROR_DOMAIN: &str = "fulfillment.v1";

pub mod text_guard;

/// The codec of every generated service and client: prost, except that a request that does not
/// decode (truncated bytes, a string that is not UTF-8, a wrong wire type) or that carries text
/// PostgreSQL cannot store (a NUL character, in any string field at any depth: see
/// [`crate::text_guard`]) is the caller's fault and answered `INVALID_ARGUMENT`, not `INTERNAL`.
pub mod codec {
    use prost::bytes::Buf;
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
        U: prost::Message + prost::Name + Default + Send + 'static,
    {
        type Encode = T;
        type Decode = U;
        type Encoder = <ProstCodec<T, U> as Codec>::Encoder;
        type Decoder = StrictDecoder<<ProstCodec<T, U> as Codec>::Decoder, U>;

        fn encoder(&mut self) -> Self::Encoder {
            self.0.encoder()
        }

        fn decoder(&mut self) -> Self::Decoder {
            StrictDecoder(self.0.decoder(), std::marker::PhantomData)
        }
    }

    #[derive(Debug)]
    pub struct StrictDecoder<D, U>(D, std::marker::PhantomData<fn() -> U>);

    impl<D, U> Decoder for StrictDecoder<D, U>
    where
        D: Decoder<Item = U, Error = Status>,
        U: prost::Message + prost::Name + Default,
    {
        type Item = U;
        type Error = Status;

        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
            // A NUL character is a 0x00 byte inside a string; most requests have no 0x00 byte
            // at all, and skip the walk. The check reads the bytes before prost consumes them.
            let whole = src.chunk().len() == src.remaining();
            if !whole || src.chunk().contains(&0) {
                let raw = src.copy_to_bytes(src.remaining());
                crate::text_guard::check(&U::full_name(), &raw)?;
                return U::decode(raw).map(Some).map_err(|e| {
                    Status::invalid_argument(format!("the request message is malformed: {e}"))
                });
            }
            self.0.decode(src).map_err(malformed)
        }

        fn buffer_settings(&self) -> BufferSettings {
            self.0.buffer_settings()
        }
    }

    /// prost's decode error, as the caller's fault.
    fn malformed(status: Status) -> Status {
        if status.code() == Code::Internal {
            Status::invalid_argument(format!(
                "the request message is malformed: {}",
                status.message()
            ))
        } else {
            status
        }
    }
}
