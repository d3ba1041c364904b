<?php
// The internal API calls of Wavelog's Worker library, made the way it makes them: curl, a JSON
// body, the shared secret in X-Worker-Secret, the system's certificate store (php.ini's
// curl.cainfo points it at a private CA, with no change to the calls).
// Usage: php worker_calls.php WORKER_URL SECRET TOPIC PAYLOAD_JSON
[$_, $url, $secret, $topic, $payload] = $argv;

function call(string $url, string $secret, string $path, array $body): int {
    $ch = curl_init(rtrim($url, '/') . $path);
    curl_setopt_array($ch, [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => json_encode($body),
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_HTTPHEADER => ['Content-Type: application/json', 'X-Worker-Secret: ' . $secret],
        CURLOPT_CONNECTTIMEOUT_MS => 2000,
        CURLOPT_TIMEOUT_MS => 5000,
    ]);
    curl_exec($ch);
    $code = curl_getinfo($ch, CURLINFO_HTTP_CODE);
    if ($code === 0) {
        fwrite(STDERR, "curl: " . curl_error($ch) . "\n");
    }
    curl_close($ch);
    return $code;
}

$registered = call($url, $secret, '/internal/register', ['topic' => $topic]);
$published = call($url, $secret, '/internal/publish', ['topic' => $topic, 'payload' => json_decode($payload, true)]);
echo json_encode(['register' => $registered, 'publish' => $published]), "\n";
exit($registered === 200 && $published === 200 ? 0 : 1);
