"""The ``realtime-desktop-server`` command: the offline Realtime server on its own.

The first line of stdout is the URL clients connect to; the token goes to stderr when it was
generated. It serves until SIGINT or SIGTERM, then closes every session and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import textwrap

from realtime_desktop.server.config import (
    DEFAULT_HOST,
    DEFAULT_SESSION_LIMIT_S,
    DIALECT_CHOICES,
    SPEECH_CHOICES,
    DeltaPacing,
    Faults,
    ServerConfig,
)
from realtime_desktop.server.server import OfflineServer

log = logging.getLogger(__name__)

EPILOG = textwrap.dedent(
    """\
    What the echo assistant answers:
      a spoken turn       your own audio, played back ("Echo of 2.4 s of your audio")
      typed text          read back: as text, or spoken with espeak-ng in audio mode
                          (without espeak-ng a chime plays and the transcript says so)
      /history            a summary of the conversation the server holds
      /call NAME {JSON}   a function_call to the configured tool NAME with those
                          arguments; a tool's name written as a word calls it with {}.
                          The next response.create after its function_call_output reads
                          the output back.
      input transcription  says honestly that no speech recognizer runs offline

    Clients authenticate with "Authorization: Bearer TOKEN" (or Azure's "api-key: TOKEN").
    """
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="realtime-desktop-server",
        description="An offline server that speaks the OpenAI Realtime protocol and answers "
        "like a telephone echo test.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0: chosen by the OS)")
    parser.add_argument("--token", help="the API key clients must send (default: random)")
    parser.add_argument(
        "--dialect",
        choices=DIALECT_CHOICES,
        default="auto",
        help="auto: beta for clients sending 'OpenAI-Beta: realtime=v1', else GA; "
        "ga: refuse beta clients (beta_api_shape_disabled, close 4000); beta: beta only",
    )
    parser.add_argument(
        "--session-limit",
        type=float,
        default=DEFAULT_SESSION_LIMIT_S,
        metavar="SECONDS",
        help="session length before session_expired and close 1001 (default: 3600)",
    )
    parser.add_argument(
        "--pace",
        type=DeltaPacing.parse,
        default=DeltaPacing.normal(),
        metavar="fast|normal|slow|FACTOR",
        help="how fast response audio is sent: normal is 4x real time, slow 0.5x, fast "
        "as fast as the socket takes it; a number is a real-time factor",
    )
    parser.add_argument(
        "--speech",
        choices=SPEECH_CHOICES,
        default="auto",
        help="how text is spoken in audio answers (auto: espeak-ng when installed)",
    )
    parser.add_argument("--log-level", default="WARNING", help="logging level on stderr")
    faults = parser.add_argument_group("fault injection (for testing clients)")
    faults.add_argument(
        "--drop-after-events", type=int, metavar="N", help="cut the connection after N events"
    )
    faults.add_argument(
        "--drop-within",
        type=float,
        metavar="SECONDS",
        help="cut the connection at a random moment within SECONDS of connecting",
    )
    faults.add_argument(
        "--frame-delay-ms", type=float, default=0.0, metavar="MS", help="delay every frame"
    )
    faults.add_argument(
        "--malformed-frame-after",
        type=int,
        metavar="N",
        help="send a frame that is not JSON after N events",
    )
    faults.add_argument(
        "--unknown-event-after",
        type=int,
        metavar="N",
        help="send an event of an unknown type after N events",
    )
    faults.add_argument(
        "--huge-event-after", type=int, metavar="N", help="send a 5 MiB event after N events"
    )
    faults.add_argument(
        "--reject-auth",
        action="store_true",
        help="answer every connection with invalid_api_key and close 4000",
    )
    faults.add_argument("--fault-seed", type=int, help="seed of the random drop moment")
    return parser


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    return ServerConfig(
        host=args.host,
        port=args.port,
        token=args.token,
        dialect=args.dialect,
        session_limit_s=args.session_limit,
        pacing=args.pace,
        speech=args.speech,
        faults=Faults(
            drop_after_events=args.drop_after_events,
            drop_within_s=args.drop_within,
            frame_delay_ms=args.frame_delay_ms,
            malformed_frame_after_events=args.malformed_frame_after,
            unknown_event_after_events=args.unknown_event_after,
            huge_event_after_events=args.huge_event_after,
            reject_auth=args.reject_auth,
            seed=args.fault_seed,
        ),
    )


async def serve_until_signalled(config: ServerConfig) -> None:
    server = OfflineServer(config)
    await server.start()
    # The first line of stdout is the contract with whoever started us (the app, tests).
    print(server.url, flush=True)
    if config.token is None:
        print(f"realtime-desktop-server: token {server.token}", file=sys.stderr, flush=True)
    if config.faults.any:
        print(f"realtime-desktop-server: faults {config.faults}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    asyncio.run(serve_until_signalled(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
