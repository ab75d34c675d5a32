//! Damage at the byte level, one definition for every volume fuzz test:
//! the decoder's (here) and the checkpoint reader's
//! (`pipeline/tests/fuzz_volume.rs`, which includes this file by path).
//! Positions are taken modulo the input's length, so any `usize` a
//! strategy draws lands somewhere.

use proptest::prelude::*;

#[derive(Debug, Clone)]
pub enum ByteEdit {
    FlipBit { at: usize, bit: u8 },
    SetByte { at: usize, byte: u8 },
    Insert { at: usize, bytes: Vec<u8> },
    Delete { at: usize, len: usize },
    Truncate { at: usize },
    /// `len` bytes at `at` written twice.
    Repeat { at: usize, len: usize },
}

impl ByteEdit {
    /// Edits drawn with the weights both tests use: what is inserted comes
    /// from `inserted`; deletions and repeats are up to the given lengths.
    pub fn strategy(inserted: BoxedStrategy<Vec<u8>>, longest_delete: usize, longest_repeat: usize) -> BoxedStrategy<ByteEdit> {
        let at = any::<usize>();
        prop_oneof![
            3 => (at, 0u8..8).prop_map(|(at, bit)| ByteEdit::FlipBit { at, bit }),
            2 => (at, any::<u8>()).prop_map(|(at, byte)| ByteEdit::SetByte { at, byte }),
            2 => (at, inserted).prop_map(|(at, bytes)| ByteEdit::Insert { at, bytes }),
            2 => (at, 1..=longest_delete).prop_map(|(at, len)| ByteEdit::Delete { at, len }),
            1 => at.prop_map(|at| ByteEdit::Truncate { at }),
            1 => (at, 1..=longest_repeat).prop_map(|(at, len)| ByteEdit::Repeat { at, len }),
        ]
        .boxed()
    }

    pub fn apply(&self, bytes: &mut Vec<u8>) {
        let n = bytes.len();
        let clamp = |at: usize| at % (n + 1);
        match self {
            ByteEdit::FlipBit { at, bit } if n > 0 => bytes[at % n] ^= 1 << bit,
            ByteEdit::SetByte { at, byte } if n > 0 => bytes[at % n] = *byte,
            ByteEdit::Insert { at, bytes: inserted } => {
                let at = clamp(*at);
                bytes.splice(at..at, inserted.iter().copied());
            }
            ByteEdit::Delete { at, len } if n > 0 => {
                let at = at % n;
                bytes.drain(at..(at + len).min(n));
            }
            ByteEdit::Truncate { at } => bytes.truncate(clamp(*at)),
            ByteEdit::Repeat { at, len } if n > 0 => {
                let at = at % n;
                let copy = bytes[at..(at + len).min(n)].to_vec();
                bytes.splice(at..at, copy);
            }
            _ => {}
        }
    }
}
