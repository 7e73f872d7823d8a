/**
 * The soak's front door: sends each request to one of the router isolates (header
 * `x-soak-isolate: <n>`, else a random one), or `/_soak/...` to the object host. Each router is
 * its own worker, so its own isolate with its own L1 cache and token leases, as on the edge.
 */
interface BalancerEnv { ISOLATES: string; GUARD_HOST: Fetcher; [binding: string]: unknown }

export default {
  async fetch(req: Request, env: BalancerEnv): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname.startsWith('/_soak/')) {
      url.pathname = url.pathname.slice('/_soak'.length);
      return env.GUARD_HOST.fetch(new Request(url, req));
    }
    const n = Number(env.ISOLATES);
    const asked = Number(req.headers.get('x-soak-isolate'));
    const i = Number.isInteger(asked) && asked >= 0 && asked < n ? asked : Math.floor(Math.random() * n);
    return (env[`ROUTER_${i}`] as Fetcher).fetch(req);
  },
};
