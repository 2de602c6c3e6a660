// Addresses for tests that need a peer nobody answers on: a fixed port such as 9 may be taken
// on some machine (and "nobody listens on it" is then a guess), so the system hands out a free
// port, which is closed again and checked to refuse connections.

import { connect, createServer } from 'node:net';

/** Whether a TCP connection to `port` on 127.0.0.1 is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(false);
    });
    socket.once('error', () => done(true));
  });
}

/** An http URL on this machine, e.g. `http://127.0.0.1:40123`, where nothing listens: a port the system gave out and took back, checked to refuse. */
export async function addressNobodyListensOn(): Promise<string> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done, fail) => server.close((error) => (error ? fail(error) : done())));
  if (!(await refused(port))) throw new Error(`port ${port} was taken again as soon as it was closed`);
  return `http://127.0.0.1:${port}`;
}
