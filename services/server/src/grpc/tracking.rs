use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::tracking_service_server::TrackingService;
use tonic::{Request, Response, Status};

use super::not_yet;
use crate::state::authorize;

/// Carrier facts arrive with the tracking issue; the contract is final already.
pub struct TrackingApi;

#[tonic::async_trait]
impl TrackingService for TrackingApi {
    async fn get_tracking(
        &self,
        request: Request<pb::GetTrackingRequest>,
    ) -> Result<Response<pb::GetTrackingResponse>, Status> {
        authorize(&request)?;
        Err(not_yet("GetTracking", "tracking issue"))
    }

    async fn ingest_tracking_events(
        &self,
        request: Request<pb::IngestTrackingEventsRequest>,
    ) -> Result<Response<pb::IngestTrackingEventsResponse>, Status> {
        authorize(&request)?;
        Err(not_yet("IngestTrackingEvents", "tracking issue"))
    }

    async fn cancel_tracking(
        &self,
        request: Request<pb::CancelTrackingRequest>,
    ) -> Result<Response<pb::CancelTrackingResponse>, Status> {
        authorize(&request)?;
        Err(not_yet("CancelTracking", "tracking issue"))
    }

    async fn list_stuck_trackings(
        &self,
        request: Request<pb::ListStuckTrackingsRequest>,
    ) -> Result<Response<pb::ListStuckTrackingsResponse>, Status> {
        authorize(&request)?;
        Err(not_yet("ListStuckTrackings", "tracking issue"))
    }
}
