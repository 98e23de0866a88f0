import HyphaeCore

/// A frame as the producer hands it to the loops: its encoding, and its compressed
/// form when some subscriber agreed to permessage-deflate. Both are made once per
/// frame and shared by every subscriber that reads them.
struct PublishedFrame: Sendable {
    let encoded: EncodedFrame
    /// nil when no subscriber compresses (or zlib failed): everyone gets `encoded`.
    let deflated: DeflatedFrame?
}
