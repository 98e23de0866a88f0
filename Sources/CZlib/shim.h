// The system's zlib, for permessage-deflate (RFC 7692) in HyphaeHost/Wire.
#include <zlib.h>
