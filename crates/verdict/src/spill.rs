//! Spilling: pair states written to temporary files, partitioned by a hash of the pair, when the
//! aggregator holds more attempts than its memory bound allows (grace-hash aggregation).
//!
//! Every pair lands in the same partition each time it is spilled, so a partition file holds
//! every spilled fragment of its pairs; merging a partition's fragments gives each of its pairs
//! exactly, whatever order the records came in. The report then reads one partition at a time.
//!
//! The files live in a directory of their own under `--temp-dir` (else `TMPDIR`), named
//! `vpcflow-spill-<pid>-…`. It is removed when the aggregator is dropped, by
//! [`remove_spill_dirs`] (the binary calls it on Ctrl-C), and, after a `kill -9`, by the next
//! run that spills into the same temporary directory, which removes the directories of processes
//! that are gone.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::state::PairKey;

/// Partitions of a spill. A partition holds about 1/64 of the spilled state.
pub(crate) const PARTITIONS: usize = 64;

/// Directories of live spills, for [`remove_spill_dirs`].
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes the spill directories of this process (call it before exiting on a signal).
pub fn remove_spill_dirs() {
    if let Ok(mut live) = LIVE.lock() {
        for dir in live.drain(..) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The partition of a pair at a partitioning level.
pub(crate) fn partition(key: &PairKey, level: u32) -> usize {
    (seeded_hash(key, level) % PARTITIONS as u64) as usize
}

/// A hash of a pair (for grouping, not partitioning).
#[inline]
pub(crate) fn pair_hash(key: &PairKey) -> u64 {
    seeded_hash(key, u32::MAX)
}

/// A hash of a pair with a fixed definition, seeded by `level`.
#[inline]
fn seeded_hash(key: &PairKey, level: u32) -> u64 {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(level).wrapping_mul(0xff51_afd7_ed55_8ccd);
    let mix = |h: u64, v: u64| (h ^ v).wrapping_mul(0x0100_0000_01b3).rotate_left(29);
    h = mix(h, u64::from(key.0));
    let (a, b) = key.1.split_at(8);
    h = mix(h, u64::from_le_bytes(a.try_into().unwrap_or_default()));
    h = mix(h, u64::from_le_bytes(b.try_into().unwrap_or_default()));
    // splitmix64's finaliser spreads the bits.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    h
}

/// The spill files of one aggregator.
#[derive(Debug)]
pub(crate) struct Spill {
    dir: PathBuf,
    /// Bytes written per partition file.
    sizes: Vec<u64>,
    /// Buffered records per partition, not yet written.
    pending: Vec<Vec<u8>>,
    /// Times the aggregator spilled.
    pub(crate) runs: u64,
}

/// Write a partition's buffer out when it reaches this size.
const FLUSH_AT: usize = 256 << 10;

fn pid_alive(pid: u32) -> bool {
    !Path::new("/proc/self").exists() || Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes spill directories under `base` left by processes that are gone (killed with -9).
pub(crate) fn remove_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("vpcflow-spill-")) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !pid_alive(pid)
        {
            tracing::info!(dir = %entry.path().display(), "removing the spill files of a run that is gone");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Spill {
    /// Creates the spill directory under `base` (else the system's temporary directory).
    pub(crate) fn create(base: Option<&Path>) -> io::Result<Spill> {
        let base = base.map_or_else(std::env::temp_dir, Path::to_path_buf);
        remove_stale(&base);
        let dir = tempfile::Builder::new()
            .prefix(&format!("vpcflow-spill-{}-", std::process::id()))
            .tempdir_in(&base)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot create a spill directory in {} ({e}); pass --temp-dir",
                        base.display()
                    ),
                )
            })?
            .keep();
        if let Ok(mut live) = LIVE.lock() {
            live.push(dir.clone());
        }
        tracing::info!(dir = %dir.display(), "spilling verdict state to disk");
        Ok(Spill {
            dir,
            sizes: vec![0; PARTITIONS],
            pending: vec![Vec::new(); PARTITIONS],
            runs: 0,
        })
    }

    pub(crate) fn path(&self, part: usize) -> PathBuf {
        self.dir.join(format!("part-{part:02}.bin"))
    }

    /// A buffer to append partition `part`'s records to; call [`Spill::flush`] after.
    pub(crate) fn buffer(&mut self, part: usize) -> &mut Vec<u8> {
        &mut self.pending[part]
    }

    /// Writes out buffers that have grown (all of them when `all`).
    pub(crate) fn flush(&mut self, all: bool) -> io::Result<()> {
        for part in 0..PARTITIONS {
            let n = self.pending[part].len();
            if n == 0 || (!all && n < FLUSH_AT) {
                continue;
            }
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(part))?;
            f.write_all(&self.pending[part])?;
            self.sizes[part] += n as u64;
            self.pending[part].clear();
        }
        Ok(())
    }

    /// Bytes on disk.
    pub(crate) fn bytes(&self) -> u64 {
        self.sizes.iter().sum()
    }

    /// Bytes of partition `part` on disk.
    pub(crate) fn size(&self, part: usize) -> u64 {
        self.sizes[part]
    }

    /// Reads partition `part` (flushed first).
    pub(crate) fn open(&mut self, part: usize) -> io::Result<Option<BufReader<File>>> {
        self.flush(true)?;
        if self.sizes[part] == 0 {
            return Ok(None);
        }
        Ok(Some(BufReader::with_capacity(
            1 << 16,
            File::open(self.path(part))?,
        )))
    }

    /// Replaces partition `part` with `records` (its compacted form).
    pub(crate) fn replace(&mut self, part: usize, records: &[u8]) -> io::Result<()> {
        let path = self.path(part);
        let mut tmp = path.clone().into_os_string();
        tmp.push(".new");
        let mut f = File::create(&tmp)?;
        f.write_all(records)?;
        drop(f);
        std::fs::rename(&tmp, &path)?;
        self.sizes[part] = records.len() as u64;
        Ok(())
    }

    /// The spill directory.
    #[cfg(test)]
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|d| d != &self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_spread() {
        let key = (3u32, [7u8; 16]);
        assert_eq!(partition(&key, 0), partition(&key, 0));
        assert_ne!(
            (0..8).map(|l| partition(&key, l)).collect::<Vec<_>>(),
            vec![partition(&key, 0); 8],
            "levels hash differently"
        );
        let mut counts = [0usize; PARTITIONS];
        for e in 0..10u32 {
            for c in 0..=255u8 {
                let mut a = [0u8; 16];
                a[10] = 0xff;
                a[11] = 0xff;
                a[15] = c;
                counts[partition(&(e, a), 0)] += 1;
            }
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min > 10 && *max < 80, "{counts:?}");
    }

    #[test]
    fn the_directory_goes_away_on_drop_and_stale_ones_are_removed() {
        let base = tempfile::tempdir().unwrap();
        let stale = base.path().join("vpcflow-spill-4000000000-abc");
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join("part-00.bin"), b"x").unwrap();
        let mut s = Spill::create(Some(base.path())).unwrap();
        assert!(!stale.exists(), "a dead process's spill is removed");
        s.buffer(3).extend_from_slice(b"abc");
        s.flush(true).unwrap();
        assert_eq!(s.bytes(), 3);
        let dir = s.dir().to_path_buf();
        assert!(dir.join("part-03.bin").exists());
        drop(s);
        assert!(!dir.exists());
    }
}
