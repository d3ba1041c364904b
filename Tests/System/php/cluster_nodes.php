<?php
// Reads the cluster's nodes the way Wavelog's Worker library does with `worker_url`: one GET of
// /internal/status with the shared secret over curl, `nodes` from the JSON, alive as reported.
// Usage: php cluster_nodes.php WORKER_URL SECRET
[$_, $url, $secret] = $argv;
$ch = curl_init(rtrim($url, '/') . '/internal/status?topics=0');
curl_setopt_array($ch, [
    CURLOPT_RETURNTRANSFER => true,
    CURLOPT_HTTPHEADER => ['X-Worker-Secret: ' . $secret],
    CURLOPT_CONNECTTIMEOUT_MS => 300,
    CURLOPT_TIMEOUT_MS => 800,
]);
$raw = curl_exec($ch);
$code = curl_getinfo($ch, CURLINFO_HTTP_CODE);
curl_close($ch);
$stats = ($code === 200 && $raw) ? json_decode($raw, true) : null;
if (!is_array($stats)) {
    fwrite(STDERR, "status failed: HTTP $code\n");
    exit(1);
}
$nodes = [];
$alive = 0;
foreach (($stats['nodes'] ?? []) as $node) {
    $nodes[] = [
        'id' => $node['id'], 'name' => $node['name'], 'version' => $node['version'],
        'alive' => (bool) $node['alive'], 'uptime' => $node['uptime'],
        'active_topics' => (int) $node['active_topics'], 'connected_clients' => (int) $node['connected_clients'],
    ];
    if ($node['alive']) {
        $alive++;
    }
}
echo json_encode(['nodes_total' => count($nodes), 'nodes_alive' => $alive, 'nodes' => $nodes]), "\n";
