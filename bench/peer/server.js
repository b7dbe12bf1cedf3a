'use strict';
// bench/report's reference peer for GET /api/v1/repositories: the same work
// as the service (bearer token checked: HS256 signature, exp, iss, aud; then
// the same SQL as a prepared statement from a pool), in fastify +
// node-postgres + fast-jwt, with PEER_WORKERS processes (node:cluster).
//
// Environment: PORT, DATABASE_URL, JWT_SECRET, JWT_ISSUER (miyabi-api),
// JWT_AUDIENCE (miyabi-web), PEER_WORKERS (2), PEER_POOL_SIZE (connections
// per worker, 4). Prints "listening PORT" once every worker listens.

const cluster = require('node:cluster');

const workers = Number(process.env.PEER_WORKERS || 2);

if (cluster.isPrimary) {
  let listening = 0;
  let stopping = false;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on('listening', () => {
      if (++listening === workers) console.log(`listening ${process.env.PORT}`);
    });
  }
  cluster.on('exit', (worker, code) => {
    if (!stopping) {
      console.error(`worker ${worker.process.pid} exited with ${code}`);
      process.exit(1);
    }
  });
  const stop = () => {
    stopping = true;
    for (const id in cluster.workers) cluster.workers[id].kill('SIGTERM');
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const fastify = require('fastify')({ logger: false });
  const { Pool } = require('pg');
  const { createVerifier } = require('fast-jwt');

  const pool = new Pool({
    connectionString: process.env.DATABASE_URL,
    max: Number(process.env.PEER_POOL_SIZE || 4),
  });
  const verify = createVerifier({
    key: process.env.JWT_SECRET,
    algorithms: ['HS256'],
    allowedIss: process.env.JWT_ISSUER || 'miyabi-api',
    allowedAud: process.env.JWT_AUDIENCE || 'miyabi-web',
  });
  // storage/repositories.cpp's list_repositories, word for word.
  const listRepositories = {
    name: 'list_repositories',
    text:
      'SELECT id, owner, name, github_repo_id, default_branch, is_active,' +
      ' rfc3339(created_at), rfc3339(updated_at)' +
      ' FROM repositories WHERE user_id = $1 AND is_active' +
      ' ORDER BY updated_at DESC, id DESC LIMIT 1000',
    rowMode: 'array',
  };
  const unauthorized = (reply) =>
    reply.code(401).send({ error: { code: 'unauthorized', message: 'missing or invalid token' } });

  fastify.get('/api/v1/repositories', async (request, reply) => {
    const header = request.headers.authorization || '';
    if (!header.startsWith('Bearer ')) return unauthorized(reply);
    let claims;
    try {
      claims = verify(header.slice(7));
    } catch (e) {
      return unauthorized(reply);
    }
    const { rows } = await pool.query({ ...listRepositories, values: [claims.sub] });
    return {
      repositories: rows.map((r) => ({
        id: r[0], owner: r[1], name: r[2], full_name: `${r[1]}/${r[2]}`,
        github_repo_id: r[3], default_branch: r[4], is_active: r[5],
        created_at: r[6], updated_at: r[7],
      })),
    };
  });

  fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' }, (err) => {
    if (err) {
      console.error(err.message);
      process.exit(1);
    }
  });
  process.on('SIGTERM', () => fastify.close().then(() => pool.end()).then(() => process.exit(0)));
}
