//! The state store: checkpoints written atomically to a local directory.
//!
//! A checkpoint is written to a temporary file, flushed to disk (fsync),
//! renamed over the previous one and the directory is synced, so after a
//! crash at any instant the directory holds either the old checkpoint or
//! the new one, whole. Live mode commits Kafka offsets only after this
//! returns (ARCHITECTURE: "durability by checkpoint + offsets").
//!
//! The file starts with a magic line and a format version, then the 8-byte
//! (little-endian) SipHash-1-3 of the body, then the body: postcard
//! (compact serde), because a province-scale state holds millions of order
//! lines and JSON would be several times larger and slower. The checksum
//! is checked before anything is decoded, so a flipped bit is refused with
//! a reason instead of restoring a state that was never written.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The version moves with the layout of what is written: postcard is not
/// self-describing, so a field added anywhere makes older files unreadable
/// (v5: finished order lines and deliveries folded into their own maps;
/// v6: complaints, the recent days of purchases, period-end days; a
/// checksum of the body, and remembered ids keep a content digest;
/// v7: the execution report's sums per window; v8: the codes behind the
/// state's ids, so a state is carried onto changed reference files; v9:
/// the same layout, remembered ids' content digests taken from the fields
/// rather than the event's `Debug` text, which [`CheckpointStore::read_versioned`]
/// tells its reader so that v8's digests are still compared their way).
const MAGIC: &[u8] = b"vbp-watch checkpoint v9\n";

/// The version [`MAGIC`] names, and the older ones this build still reads.
pub const VERSION: u32 = 9;
const READABLE: [(u32, &[u8]); 2] = [(VERSION, MAGIC), (8, b"vbp-watch checkpoint v8\n")];

/// A checkpoint read back: the value, the file's size and its version.
pub struct ReadBack<T> {
    pub value: T,
    pub bytes: u64,
    pub version: u32,
}

/// Bytes of the body's checksum, after [`MAGIC`].
const CHECKSUM_BYTES: usize = 8;

/// Why a checkpoint cannot be written or read, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot {doing} {}: {source}", path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode the checkpoint: {0}")]
    Encode(#[source] postcard::Error),
    #[error("{} is not a vbp-watch checkpoint of this version; move it away to rebuild the state from the topics", path.display())]
    NotACheckpoint { path: PathBuf },
    #[error("{} is damaged: its checksum does not match its contents; move it away to rebuild the state from the topics", path.display())]
    Corrupt { path: PathBuf },
    #[error("{} is damaged or from another version ({source}); move it away to rebuild the state from the topics", path.display())]
    Damaged {
        path: PathBuf,
        #[source]
        source: postcard::Error,
    },
}

type Result<T, E = CheckpointError> = std::result::Result<T, E>;

fn io(doing: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError {
    let path = path.to_path_buf();
    move |source| CheckpointError::Io { doing, path, source }
}

/// One checkpoint file in a directory.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    path: PathBuf,
}

impl CheckpointStore {
    /// The store at `dir/name`, creating `dir` if needed.
    pub fn open(dir: &Path, name: &str) -> Result<Self> {
        fs::create_dir_all(dir).map_err(io("create the state directory", dir))?;
        Ok(CheckpointStore { path: dir.join(name) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `value` durably and atomically; returns the bytes written.
    pub fn write<T: Serialize>(&self, value: &T) -> Result<u64> {
        let body = postcard::to_stdvec(value).map_err(CheckpointError::Encode)?;
        let sum = checksum(&body).to_le_bytes();
        let tmp = self.path.with_extension("tmp");
        // Written piece by piece: the body is the whole state (1.2 GB at
        // province scale), and one buffer of it all was a second copy.
        let written = File::create(&tmp).map_err(io("create", &tmp)).and_then(|mut file| {
            file.write_all(MAGIC)
                .and_then(|_| file.write_all(&sum))
                .and_then(|_| file.write_all(&body))
                .and_then(|_| file.sync_all())
                .map_err(io("write", &tmp))?;
            drop(file);
            fs::rename(&tmp, &self.path).map_err(io("rename into place", &tmp))
        });
        if let Err(e) = written {
            // A full disk: the part written goes, so it holds no space, and
            // the last whole checkpoint stays where it was.
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        if let Some(dir) = self.path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync", dir))?;
        }
        Ok((MAGIC.len() + sum.len() + body.len()) as u64)
    }

    /// Reads the checkpoint back; `None` when there is none yet.
    pub fn read<T: DeserializeOwned>(&self) -> Result<Option<(T, u64)>> {
        Ok(self.read_versioned()?.map(|r| (r.value, r.bytes)))
    }

    /// Reads the checkpoint back with its version, for a reader whose
    /// values mean something else in an older version of the same layout.
    pub fn read_versioned<T: DeserializeOwned>(&self) -> Result<Option<ReadBack<T>>> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read", &self.path)(e)),
        };
        let Some((version, sealed)) = READABLE.iter().find_map(|(v, magic)| Some((*v, bytes.strip_prefix(*magic)?))) else {
            return Err(CheckpointError::NotACheckpoint { path: self.path.clone() });
        };
        let Some((sum, body)) = sealed.split_first_chunk::<CHECKSUM_BYTES>() else {
            return Err(CheckpointError::Corrupt { path: self.path.clone() });
        };
        if u64::from_le_bytes(*sum) != checksum(body) {
            return Err(CheckpointError::Corrupt { path: self.path.clone() });
        }
        let value = vbp_detectors::presized::within(body.len(), || postcard::from_bytes(body))
            .map_err(|source| CheckpointError::Damaged { path: self.path.clone(), source })?;
        Ok(Some(ReadBack { value, bytes: bytes.len() as u64, version }))
    }
}

/// The checksum of a checkpoint's body: SipHash-1-3 with fixed keys, the
/// same on every build.
fn checksum(body: &[u8]) -> u64 {
    siphasher::sip::SipHasher13::new_with_keys(0x7662_702d_636b_7074, 0x626f_6479_2073_756d).hash(body)
}

/// A stable 64-bit FNV-1a hash, for fingerprints that must not change
/// between builds (std's hasher may).
pub fn fnv1a(bytes: &[u8], mut hash: u64) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x100_0000_01b3);
    }
    hash
}

/// The FNV-1a offset basis: the hash of nothing.
pub const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// A fingerprint of the reference CSV files: a checkpoint holds ids that
/// are positions in them, so it is only valid with the same files.
pub fn reference_fingerprint(dir: &Path) -> Result<u64> {
    let mut hash = FNV_START;
    for name in vbp_detectors::reference::FILES {
        let path = dir.join(name);
        match fs::read(&path) {
            Ok(bytes) => hash = fnv1a(name.as_bytes(), fnv1a(&bytes, hash)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => hash = fnv1a(name.as_bytes(), hash),
            Err(e) => return Err(io("read", &path)(e)),
        }
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_replaces_whole() {
        let dir = std::env::temp_dir().join(format!("vbp-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir); // a reused pid's leftovers
        let store = CheckpointStore::open(&dir, "test.ckpt").unwrap();
        assert!(store.read::<Vec<u32>>().unwrap().is_none());
        store.write(&vec![1u32, 2, 3]).unwrap();
        store.write(&vec![4u32]).unwrap();
        assert_eq!(store.read::<Vec<u32>>().unwrap().unwrap().0, vec![4]);
        assert!(!store.path().with_extension("tmp").exists());
        std::fs::write(store.path(), b"garbage").unwrap();
        let err = store.read::<Vec<u32>>().unwrap_err().to_string();
        assert!(err.contains("move it away"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    fn scratch(name: &str) -> CheckpointStore {
        let dir = std::env::temp_dir().join(format!("vbp-ckpt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        CheckpointStore::open(&dir, "test.ckpt").unwrap()
    }

    #[test]
    fn a_flipped_byte_in_the_body_is_refused_by_its_checksum_with_a_way_out() {
        let store = scratch("flip");
        store.write(&vec![0u32; 3949]).unwrap();
        let mut bytes = std::fs::read(store.path()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] = 9;
        std::fs::write(store.path(), &bytes).unwrap();
        let err = store.read::<Vec<u32>>().unwrap_err().to_string();
        assert!(err.contains("checksum does not match") && err.contains("move it away"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }

    #[test]
    fn a_truncated_checkpoint_is_refused_with_a_way_out() {
        let store = scratch("short");
        store.write(&vec![7u32; 100]).unwrap();
        let bytes = std::fs::read(store.path()).unwrap();
        for keep in [MAGIC.len(), MAGIC.len() + 3, bytes.len() - 1] {
            std::fs::write(store.path(), &bytes[..keep]).unwrap();
            let err = store.read::<Vec<u32>>().unwrap_err().to_string();
            assert!(err.contains("move it away"), "{keep}: {err}");
        }
    }

    #[test]
    fn a_map_length_of_four_billion_reserves_no_more_than_the_body_holds() {
        #[derive(serde::Deserialize)]
        struct Ids {
            #[serde(deserialize_with = "vbp_detectors::presized::deserialize")]
            _ids: vbp_detectors::FastMap<u128, [u64; 32]>,
        }
        let store = scratch("length");
        // A map whose length says 2³²−1 entries of 272 bytes (reserved as 2²⁶
        // before: 36 GB, more than this machine has), and one entry:
        // sealed with a valid checksum, as a crafted file would be.
        let mut body = postcard::to_stdvec(&u32::MAX).unwrap();
        body.extend(postcard::to_stdvec(&(1u128, [0u64; 32])).unwrap());
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&checksum(&body).to_le_bytes());
        bytes.extend_from_slice(&body);
        std::fs::write(store.path(), &bytes).unwrap();
        let err = store.read::<Ids>().err().expect("refused").to_string();
        assert!(err.contains("move it away"), "{err}");
    }
}
