"""Every budget a Space enforces, in one place: what one request may cost, and how long a client may take.

Each limit is checked before the expensive step it protects: pixels from the image header before decoding,
instances and JSON values before rows or objects are built, the length of a text before normalizing it, request
headers and bodies while they arrive. The README's API table lists them; `shared.images`, `shared.adapters`,
`shared.tf_serving`, `shared.server`, `shared.ui`, `shared.text` and `shared.traffic` read them from here.
"""

from __future__ import annotations

MIB = 2**20

# --- REST (TF Serving's API) ---------------------------------------------------------------------------------
MAX_BODY_BYTES = 10 * MIB  # a :predict body; larger ones are refused (413) before they are read
MAX_INSTANCES = 64  # per request, counted before any row is built (columnar `inputs` too)
# JSON values (numbers, strings, lists, objects) in one body, counted on the raw bytes before parsing: each costs
# 32-64 bytes as a Python object, so this bounds what parsing may allocate (~64 MiB); 8 tensors of 224×224×3 fit.
MAX_JSON_VALUES = 1_500_000

# --- images (REST and page alike) ----------------------------------------------------------------------------
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")  # Pillow opens nothing else (MPO: as JPEG)
READABLE_FORMATS = "PNG, JPEG, WebP, GIF, BMP or TIFF"
MIN_SIDE = 8
MAX_IMAGE_PIXELS = 16_000_000  # decoded pixels of one image (a JPEG counts at the reduced scale it is decoded at)
MAX_DECLARED_PIXELS = 64_000_000  # what any header may declare (JPEGs above MAX_IMAGE_PIXELS decode reduced)
MAX_REQUEST_PIXELS = 16_000_000  # decoded pixels of all the images of one request together
# Decoded bytes in flight across all requests: a bigger decode waits for others to finish (a 16 MP RGBA PNG is
# 64 MiB). Images under SMALL_DECODE_BYTES never wait: they cost little, and a good request must not queue; they
# are the only ones a REST request decodes on the event loop (a bigger one goes to a worker thread).
DECODE_MEMORY_BYTES = 80 * MIB
SMALL_DECODE_BYTES = 1 * MIB  # a 1 MP gray or 512×512 RGB image: a few milliseconds to decode
PNG_TEXT_BYTES = 1 * MIB  # PNG text chunks are inflated while the header is read (Pillow's default: 64 MiB)

# --- text ----------------------------------------------------------------------------------------------------
MAX_TEXT_CHARS = 5_000  # checked first: at most 20,000 bytes of UTF-8; a lone surrogate is refused
MAX_NORMALIZED_CHARS = 10_000  # once normalized (NFKC turns a few characters, like U+FDFA, into up to 18)

# --- the page (Gradio) ---------------------------------------------------------------------------------------
MAX_UPLOAD_BYTES = 10 * MIB  # one uploaded file
MAX_PAGE_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024  # any page request: one upload and its form fields
QUEUE_SIZE = 64  # events waiting in Gradio's queue; more are refused ("queue full")
EVENT_CONCURRENCY = 2  # calls of one event running at once
SESSION_CAPACITY = 200  # sessions kept (Gradio keeps 10,000 by default: RSS grew ~35 KiB per API call)
SKETCH_LAYERS = 8  # sketchpad layers accepted per drawing
SKETCH_PENDING = 32  # drawings whose images were sent but not yet classified (oldest dropped beyond)
CACHE_SWEEP_S, CACHE_MAX_AGE_S = 60, 600  # uploads and outputs are deleted once older than 10 minutes

# --- connections (uvicorn) -----------------------------------------------------------------------------------
HEADER_TIMEOUT_S = 5.0  # a request's headers must be complete this long after its first byte (or the connect)
BODY_GRACE_S = 5.0  # then its body may take this long plus one second per MIN_BODY_RATE bytes
MIN_BODY_RATE = 64 * 1024  # bytes per second
KEEP_ALIVE_S = 5.0  # an idle keep-alive connection is closed after this long
MAX_CONNECTIONS = 4_096  # open connections and running requests; beyond, uvicorn answers 503

# --- the traffic log -----------------------------------------------------------------------------------------
LOG_ROTATE_BYTES = 64 * MIB  # a log file is closed and a new one started beyond this size
LOG_RETRY_S = 5.0  # after a failed write (disk full, read-only), the next attempt waits this long
