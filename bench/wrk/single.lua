wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"bench/single","data":{"user":{"id":"u_123","email":"a@example.com","public_metadata":{}}}}'
