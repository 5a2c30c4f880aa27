//! The old single-struct face of a log, for tests of the log and of the cleaner.

use std::path::Path;

use super::{AppendInfo, Log, LogOptions, Marker};
use crate::segment::FileSlice;
use crate::txn::AbortedTxn;
use crate::{Error, LogConfig, TopicPartition};

pub(crate) fn tp() -> TopicPartition {
    TopicPartition::new("t", 0)
}

/// The old single-struct face, for the tests: appends move the high watermark (a single
/// replica), reads go through the published state.
pub(crate) trait Ops {
    fn open_with(dir: &Path, config: LogConfig, recover: bool, recovery_point: Option<i64>) -> Log;
    fn append(&self, records: &[u8], now_ms: i64) -> Result<AppendInfo, Error>;
    fn append_marker_at(
        &self,
        pid: i64,
        epoch: i16,
        commit: bool,
        now_ms: i64,
    ) -> Result<i64, Error>;
    fn read(&self, offset: i64, max_bytes: u32) -> Result<Option<FileSlice>, Error>;
    fn read_upto(&self, offset: i64, max_bytes: u32, end: i64) -> Result<Option<FileSlice>, Error>;
    fn log_end_offset(&self) -> i64;
    fn log_start_offset(&self) -> i64;
    fn last_stable_offset(&self) -> i64;
    fn aborted_transactions(&self, from: i64, to: i64) -> Vec<AbortedTxn>;
    fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, Error>;
    fn max_timestamp(&self) -> (i64, i64);
    fn segment_count(&self) -> usize;
}

impl Ops for Log {
    fn open_with(dir: &Path, config: LogConfig, recover: bool, recovery_point: Option<i64>) -> Log {
        let mut options = LogOptions::new(config, 0);
        options.recover = recover;
        options.recovery_point = recovery_point;
        Log::open(tp(), dir, options).unwrap()
    }
    fn append(&self, records: &[u8], now_ms: i64) -> Result<AppendInfo, Error> {
        let info = self.append_as_leader(records, 0, now_ms)?;
        self.update_high_watermark(i64::MAX);
        Ok(info)
    }
    fn append_marker_at(
        &self,
        pid: i64,
        epoch: i16,
        commit: bool,
        now_ms: i64,
    ) -> Result<i64, Error> {
        let marker = Marker {
            producer_id: pid,
            producer_epoch: epoch,
            commit,
            coordinator_epoch: 0,
        };
        let offset = self.append_marker(marker, 0, now_ms)?;
        self.update_high_watermark(i64::MAX);
        Ok(offset)
    }
    fn read(&self, offset: i64, max_bytes: u32) -> Result<Option<FileSlice>, Error> {
        let state = self.read_state();
        state.read(offset, max_bytes, state.high_watermark)
    }
    fn read_upto(&self, offset: i64, max_bytes: u32, end: i64) -> Result<Option<FileSlice>, Error> {
        self.read_state().read(offset, max_bytes, end)
    }
    fn log_end_offset(&self) -> i64 {
        self.read_state().log_end_offset
    }
    fn log_start_offset(&self) -> i64 {
        self.read_state().log_start_offset
    }
    fn last_stable_offset(&self) -> i64 {
        self.read_state().last_stable_offset
    }
    fn aborted_transactions(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.read_state().aborted_transactions(from, to)
    }
    fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, Error> {
        self.read_state().offset_for_timestamp(ts, i64::MAX)
    }
    fn max_timestamp(&self) -> (i64, i64) {
        self.read_state().max_timestamp()
    }
    fn segment_count(&self) -> usize {
        self.read_state().segments().count()
    }
}
