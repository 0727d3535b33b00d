"""delegate's engine: agents, supervisor, model access, tools and store. Never imports Textual.

The anthropic SDK's import is most of a run's start-up, and 7-9% of it is aiohttp, which
the SDK loads only to offer `DefaultAioHttpClient` (its optional aiohttp transport; the
SDK works without the package, and says so if that client is asked for). delegate never
uses it: its requests go through httpx2 (core.http_client). So the SDK's optional module
is marked absent before anything here imports the SDK: `import anthropic` then skips
aiohttp (~0.1 s on a quiet machine). aiohttp itself stays importable (`delegate serve`).
"""

import sys

# None in sys.modules makes `from ._vendor import httpx_aiohttp` raise ImportError, the
# SDK's own "not installed" path. Only if the SDK was not imported already (a test
# process that imported it first keeps it whole).
if "anthropic" not in sys.modules:
    sys.modules.setdefault("anthropic._vendor.httpx_aiohttp", None)  # type: ignore[arg-type]
