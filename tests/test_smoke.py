from quarkbot.models import AuditLog, User


async def test_login_and_me(client, auth_headers, registered):
    registered("quarkbot")
    headers = await auth_headers("trader", username="alice")
    response = await client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert body["username"] == "alice"
    assert "password_hash" not in body
    login = await client.post(
        "/api/v1/auth/login",
        json={"username": "alice", "password": "correct-horse-battery-staple"},
    )
    assert login.status_code == 200
    assert await AuditLog.filter(path="/api/v1/auth/login").count() == 1
    assert await User.filter(username="alice").count() == 1
