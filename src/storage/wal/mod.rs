//! Write-ahead log: checksummed records in segment files, group commit with fsync.
