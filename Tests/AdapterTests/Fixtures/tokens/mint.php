<?php
// Mints the golden token vectors with the backend's own algorithm (docs/protocol.md "Tokens").
// Regenerate with: php mint.php > tokens.json
$secret = 'golden-vector-secret-0123456789abcdef';
$other  = 'another-secret-that-is-long-enough-000000';
$now = 1800000000;
function mint($claims, $secret) { $h = bin2hex(json_encode($claims)); return $h . '.' . hash_hmac('sha256', $h, $secret); }
function signRaw($h, $secret) { return $h . '.' . hash_hmac('sha256', $h, $secret); }
$valid = mint(['user_id' => 7, 'topic' => 'session.42', 'expires' => 2000000000], $secret);
$tampered = $valid; $tampered[3] = $tampered[3] === 'a' ? 'b' : 'a';
$v = [
  ['name' => 'valid topic binding', 'topic' => 'session.42', 'token' => $valid, 'expect' => 'ok', 'user_id' => 7],
  ['name' => 'expires equals now', 'topic' => 'session.42', 'token' => mint(['user_id' => 7, 'topic' => 'session.42', 'expires' => $now], $secret), 'expect' => 'ok', 'user_id' => 7],
  ['name' => 'expired', 'topic' => 'session.42', 'token' => mint(['user_id' => 7, 'topic' => 'session.42', 'expires' => $now - 1], $secret), 'expect' => 'token_expired'],
  ['name' => 'tampered claims', 'topic' => 'session.42', 'token' => $tampered, 'expect' => 'bad_signature'],
  ['name' => 'wrong secret', 'topic' => 'session.42', 'token' => mint(['user_id' => 7, 'topic' => 'session.42', 'expires' => 2000000000], $other), 'expect' => 'bad_signature'],
  ['name' => 'uppercase signature', 'topic' => 'session.42', 'token' => strtoupper(substr($valid, 0, 0)) . explode('.', $valid)[0] . '.' . strtoupper(explode('.', $valid)[1]), 'expect' => 'malformed'],
  ['name' => 'wrong topic', 'topic' => 'session.42', 'token' => mint(['user_id' => 7, 'topic' => 'session.7', 'expires' => 2000000000], $secret), 'expect' => 'wrong_topic'],
  ['name' => 'topic prefix is not enough', 'topic' => 'session.42', 'token' => mint(['user_id' => 7, 'topic' => 'session.4', 'expires' => 2000000000], $secret), 'expect' => 'wrong_topic'],
  ['name' => 'legacy numeric session_id', 'topic' => 'session.42', 'token' => mint(['user_id' => 3, 'session_id' => 42, 'expires' => 2000000000], $secret), 'expect' => 'ok', 'user_id' => 3],
  ['name' => 'legacy session_id on contest topic', 'topic' => 'contest_session.42', 'token' => mint(['user_id' => 3, 'session_id' => 42, 'expires' => 2000000000], $secret), 'expect' => 'ok', 'user_id' => 3],
  ['name' => 'legacy string session_id', 'topic' => 'session.42', 'token' => mint(['user_id' => 3, 'session_id' => '42', 'expires' => 2000000000], $secret), 'expect' => 'ok', 'user_id' => 3],
  ['name' => 'legacy session_id for another session', 'topic' => 'session.43', 'token' => mint(['user_id' => 3, 'session_id' => 42, 'expires' => 2000000000], $secret), 'expect' => 'wrong_topic'],
  ['name' => 'legacy session_id is not a substring match', 'topic' => 'session.142', 'token' => mint(['user_id' => 3, 'session_id' => 42, 'expires' => 2000000000], $secret), 'expect' => 'wrong_topic'],
  ['name' => 'no binding', 'topic' => 'session.42', 'token' => mint(['user_id' => 7, 'expires' => 2000000000], $secret), 'expect' => 'unbound'],
  ['name' => 'no expires', 'topic' => 'session.42', 'token' => mint(['user_id' => 7, 'topic' => 'session.42'], $secret), 'expect' => 'malformed'],
  ['name' => 'anonymous', 'topic' => 'session.42', 'token' => mint(['topic' => 'session.42', 'expires' => 2000000000], $secret), 'expect' => 'ok', 'user_id' => 0],
  ['name' => 'unicode topic escaped by json_encode', 'topic' => "caf\u{e9}.1", 'token' => mint(['user_id' => 9, 'topic' => "caf\u{e9}.1", 'expires' => 2000000000], $secret), 'expect' => 'ok', 'user_id' => 9],
  ['name' => 'slash escaped by json_encode', 'topic' => 'club/contest.5', 'token' => mint(['user_id' => 9, 'topic' => 'club/contest.5', 'expires' => 2000000000], $secret), 'expect' => 'ok', 'user_id' => 9],
  ['name' => 'signed but not hex', 'topic' => 'session.42', 'token' => signRaw('zz' . bin2hex('{"topic":"session.42"}'), $secret), 'expect' => 'malformed'],
  ['name' => 'signed but odd-length hex', 'topic' => 'session.42', 'token' => signRaw(substr(bin2hex(json_encode(['topic' => 'session.42', 'expires' => 2000000000])), 1), $secret), 'expect' => 'malformed'],
  ['name' => 'signed but not a JSON object', 'topic' => 'session.42', 'token' => signRaw(bin2hex('[1,2,3]'), $secret), 'expect' => 'malformed'],
  ['name' => 'signed but not JSON', 'topic' => 'session.42', 'token' => signRaw(bin2hex('{"topic":'), $secret), 'expect' => 'malformed'],
  ['name' => 'expires as a string', 'topic' => 'session.42', 'token' => mint(['topic' => 'session.42', 'expires' => '2000000000'], $secret), 'expect' => 'malformed'],
  ['name' => 'missing dot', 'topic' => 'session.42', 'token' => str_replace('.', '', $valid), 'expect' => 'malformed'],
  ['name' => 'empty signature', 'topic' => 'session.42', 'token' => explode('.', $valid)[0] . '.', 'expect' => 'malformed'],
  ['name' => 'empty claims', 'topic' => 'session.42', 'token' => '.' . explode('.', $valid)[1], 'expect' => 'malformed'],
  ['name' => 'huge token', 'topic' => 'session.42', 'token' => signRaw(str_repeat('ab', 5000), $secret), 'expect' => 'malformed'],
];
echo json_encode(['secret' => $secret, 'now' => $now, 'vectors' => $v], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
