-- wrk script: POST a small publish to the internal API (the backend's hot path).
wrk.method = "POST"
wrk.path = "/internal/publish"
wrk.body = '{"topic":"bench","payload":{"qso":{"call":"DL1ABC","band":"20m","mode":"CW","rst":"599"}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Worker-Secret"] = os.getenv("WORKER_SECRET")
