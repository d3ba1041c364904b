<?php
// A backend's webhook endpoint as Wavelog's PHP would write it: the raw body, verified with
// hash_hmac against X-Worker-Signature before anything is trusted; each verified event is
// appended to the file named by WEBHOOK_LOG as one JSON line.
$secret = getenv('WORKER_SECRET');
$body = file_get_contents('php://input');
$signature = $_SERVER['HTTP_X_WORKER_SIGNATURE'] ?? '';
if (!hash_equals(hash_hmac('sha256', $body, $secret), $signature)) {
    http_response_code(401);
    echo "bad signature\n";
    return;
}
$payload = json_decode($body, true);
if (!is_array($payload) || !is_int($payload['time_ms'] ?? null) || !is_array($payload['events'] ?? null)) {
    http_response_code(400);
    return;
}
foreach ($payload['events'] as $event) {
    file_put_contents(getenv('WEBHOOK_LOG'), json_encode($event) . "\n", FILE_APPEND | LOCK_EX);
}
http_response_code(204);
