//! Calls any RPC with hand-made bytes, so the security tests can walk every method of the
//! service descriptors (and send what no typed client would: invalid UTF-8, garbage).

use bytes::{Buf, BufMut};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Status};

#[derive(Clone, Default)]
pub struct RawCodec;

pub struct RawEncoder;
pub struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        Ok(Some(bytes.to_vec()))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

/// One RPC of the contract.
#[derive(Debug, Clone)]
pub struct Method {
    /// `/fulfillment.v1.FulfillmentService/GetOrder`
    pub path: String,
    pub name: String,
    pub server_streaming: bool,
    /// Field number of a top-level `string merchant_id`, if the request has one.
    pub merchant_id_field: Option<i32>,
    /// Field number of the first top-level string field, if any.
    pub first_string_field: Option<i32>,
}

/// Every method of every service in the fulfillment descriptor set.
pub fn methods() -> Vec<Method> {
    use prost_types::field_descriptor_proto::{Label, Type};
    let set =
        prost_types::FileDescriptorSet::decode(fulfillment_proto::FILE_DESCRIPTOR_SET).unwrap();
    let messages: Vec<(String, prost_types::DescriptorProto)> = set
        .file
        .iter()
        .flat_map(|f| {
            f.message_type
                .iter()
                .map(move |m| (format!(".{}.{}", f.package(), m.name()), m.clone()))
        })
        .collect();
    let mut out = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                let input = &messages
                    .iter()
                    .find(|(name, _)| name == method.input_type())
                    .unwrap()
                    .1;
                let strings: Vec<_> = input
                    .field
                    .iter()
                    .filter(|f| f.r#type() == Type::String && f.label() != Label::Repeated)
                    .collect();
                out.push(Method {
                    path: format!("/{}.{}/{}", file.package(), service.name(), method.name()),
                    name: method.name().to_owned(),
                    server_streaming: method.server_streaming(),
                    merchant_id_field: strings
                        .iter()
                        .find(|f| f.name() == "merchant_id")
                        .map(|f| f.number()),
                    first_string_field: strings.first().map(|f| f.number()),
                });
            }
        }
    }
    out
}

/// Protobuf bytes of one length-delimited field.
pub fn string_field(number: i32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::encode_key(
        number as u32,
        prost::encoding::WireType::LengthDelimited,
        &mut out,
    );
    prost::encoding::encode_varint(value.len() as u64, &mut out);
    out.extend_from_slice(value);
    out
}

/// Calls `method` with `body`, as the holder of `token` (none: no authorization metadata).
/// Streaming answers are read to their first message or error.
pub async fn call(
    channel: &Channel,
    method: &Method,
    token: Option<&str>,
    body: Vec<u8>,
) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone())
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024);
    grpc.ready()
        .await
        .map_err(|e| Status::new(Code::Unavailable, e.to_string()))?;
    let mut request = tonic::Request::new(body);
    if let Some(token) = token {
        let value: MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    let path: http::uri::PathAndQuery = method.path.parse().unwrap();
    if method.server_streaming {
        let mut stream = grpc
            .server_streaming(request, path, RawCodec)
            .await?
            .into_inner();
        stream.message().await?;
        Ok(())
    } else {
        grpc.unary(request, path, RawCodec).await.map(drop)
    }
}
