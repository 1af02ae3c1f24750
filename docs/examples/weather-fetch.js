// Calls a JSON API with a secret it never sees: the kernel adds `Authorization: Bearer <value>` of
// the secret `weather-key` to requests to api.weather.example (docs/effects.md). The owner needs
// an http grant for the host (an operator: `substrate grant add <principal> http api.weather.example
// --methods GET`) and an operator stores the key: `substrate secrets set weather-key --hosts
// api.weather.example < key.txt`. Its tests run on fixtures: nothing leaves the machine in a gate.
export const manifest = {
  name: 'weather.now',
  version: '1.0.0',
  description: 'The current temperature of a city, from the weather API',
  inputSchema: { type: 'object', properties: { city: { type: 'string', minLength: 1 } }, required: ['city'] },
  effects: { http: [{ host: 'api.weather.example', methods: ['GET'], secrets: ['weather-key'] }] },
  tests: [
    {
      name: 'reads the temperature',
      input: { city: 'Oslo' },
      http: [{ request: { method: 'GET', url: 'https://api.weather.example/v1/now?city=Oslo' }, response: { status: 200, body: { city: 'Oslo', celsius: 3.5 } } }],
      expect: { city: 'Oslo', celsius: 3.5 },
    },
    {
      name: 'an unknown city is an error',
      input: { city: 'Atlantis' },
      http: [{ request: { url: 'https://api.weather.example/v1/now?city=Atlantis' }, response: { status: 404, body: { error: 'no such city' } } }],
      expectError: { type: 'CAPABILITY_ERROR', message: 'no such city' },
    },
  ],
};

export const API = 'https://api.weather.example';

export default async function (input) {
  const res = await fetch(`${API}/v1/now?city=${encodeURIComponent(input.city)}`, { headers: { accept: 'application/json' } });
  const body = await res.json();
  if (!res.ok) throw new Error(`weather API ${res.status}: ${body.error ?? res.statusText}`);
  return { city: body.city, celsius: body.celsius };
}
