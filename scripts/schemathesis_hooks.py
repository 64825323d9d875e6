"""schemathesis hooks for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

A tus PATCH (and a creation with upload) sends its bytes as application/offset+octet-stream
(tus 1.0.0 core): the same raw bytes as application/octet-stream, under another name.
"""

import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
