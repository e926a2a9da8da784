//! "This wasn't me" links and their confirmation ([`ReportStore`]).

use super::DynamoStore;
use crate::domain::Report;
use crate::store::{FileReport, ReportFiled, ReportStore, StoreError, StoreResult};
use time::OffsetDateTime;

#[async_trait::async_trait]
impl ReportStore for DynamoStore {
    async fn report(&self, _token_hash: &str, _now: OffsetDateTime) -> StoreResult<Option<Report>> {
        Err(StoreError::Unavailable("IN PROGRESS: report items".into()))
    }

    async fn file_report(&self, _filing: &FileReport) -> StoreResult<ReportFiled> {
        Err(StoreError::Unavailable("IN PROGRESS: report items".into()))
    }
}
