import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from plinto.asgi import application
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")


def session_cookie_for(user) -> bytes:  # noqa: ANN001
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _talk(headers: list[tuple[bytes, bytes]], message: dict | None = None) -> tuple[bool, object]:
    communicator = WebsocketCommunicator(application, "/ws/v1/ping", headers=headers)
    connected, code = await communicator.connect()
    reply = None
    if connected and message is not None:
        await communicator.send_json_to(message)
        reply = await communicator.receive_json_from()
    await communicator.disconnect()
    return connected, reply if connected else code


def test_signed_in_client_gets_pong() -> None:
    user = UserFactory()
    connected, reply = async_to_sync(_talk)([ORIGIN, (b"cookie", session_cookie_for(user))],
                                            {"type": "ping", "data": 7})
    assert connected
    assert reply == {"type": "pong", "echo": 7, "user_id": str(user.pk)}


def test_unknown_message_gets_an_error_not_a_crash() -> None:
    connected, reply = async_to_sync(_talk)([ORIGIN, (b"cookie", session_cookie_for(UserFactory()))], {"x": 1})
    assert connected and reply["code"] == "unknown_message"


def test_anonymous_socket_is_closed_with_4401() -> None:
    connected, code = async_to_sync(_talk)([ORIGIN])
    assert (connected, code) == (False, 4401)


def test_socket_from_a_foreign_origin_is_refused() -> None:
    cookie = session_cookie_for(UserFactory())
    connected, _ = async_to_sync(_talk)([(b"origin", b"https://evil.example"), (b"cookie", cookie)])
    assert connected is False
