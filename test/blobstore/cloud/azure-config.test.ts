import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, test } from 'vitest';
import { AzureStore, chooseAzureCredential, parseAzureUri } from '../../../src/blobstore/cloud/azure-store.js';
import { isAzureHttpsUri } from '../../../src/blobstore/cloud/cloud-stores.js';
import { UnsupportedUriError } from '../../../src/blobstore/errors.js';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT, TEST_CONTAINER, azureChildEnv, azureServer, skipRequested } from '../../support/servers.js';

describe('azure URIs', () => {
  test('adls://account/container/path, endpoint from the account', () => {
    expect(parseAzureUri('adls://acct/data/a/b.bin', { env: {} })).toEqual({
      serviceUrl: 'https://acct.blob.core.windows.net',
      account: 'acct',
      container: 'data',
      blobName: 'a/b.bin',
      uriPrefix: 'adls://acct/data/',
    });
  });

  test('https://account.blob.core.windows.net/container/path', () => {
    expect(parseAzureUri('https://acct.blob.core.windows.net/data/x/y', { env: {} })).toMatchObject({
      serviceUrl: 'https://acct.blob.core.windows.net',
      account: 'acct',
      container: 'data',
      blobName: 'x/y',
      uriPrefix: 'https://acct.blob.core.windows.net/data/',
    });
  });

  test('azurite-style path URIs carry the account in the path', () => {
    expect(parseAzureUri('http://127.0.0.1:10000/devstoreaccount1/data/k', { env: {} })).toMatchObject({
      serviceUrl: 'http://127.0.0.1:10000/devstoreaccount1',
      account: 'devstoreaccount1',
      container: 'data',
      blobName: 'k',
      uriPrefix: 'http://127.0.0.1:10000/devstoreaccount1/data/',
    });
  });

  test('endpoint overrides: option, connection string of the same account, MEMOCALL_AZURE_BLOB_ENDPOINT', () => {
    const cs =
      'DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1234/acct;';
    expect(parseAzureUri('adls://acct/data/k', { env: { AZURE_STORAGE_CONNECTION_STRING: cs } }).serviceUrl).toBe(
      'http://127.0.0.1:1234/acct',
    );
    // Another account's connection string does not apply.
    expect(parseAzureUri('adls://other/data/k', { env: { AZURE_STORAGE_CONNECTION_STRING: cs } }).serviceUrl).toBe(
      'https://other.blob.core.windows.net',
    );
    expect(
      parseAzureUri('adls://acct/data/k', { env: { MEMOCALL_AZURE_BLOB_ENDPOINT: 'http://127.0.0.1:9/{account}/' } })
        .serviceUrl,
    ).toBe('http://127.0.0.1:9/acct');
    expect(
      parseAzureUri('adls://acct/data/k', { endpoint: 'https://proxy.example/{account}', env: {} }).serviceUrl,
    ).toBe('https://proxy.example/acct');
  });

  test('list prefixes may stop at the container; objects need a blob name; bad names are refused', () => {
    expect(parseAzureUri('adls://acct/data', { env: {} }, true).blobName).toBe('');
    expect(parseAzureUri('adls://acct/data/', { env: {} }, true).blobName).toBe('');
    for (const bad of [
      'adls://acct/data',
      'adls://acct/Data/x',
      'adls://a/data/x',
      'adls://acct/da--ta/x',
      'https://example.com/acct/data/x',
      'https://acct.blob.core.windows.net/data/x?sv=2020&sig=abc',
      's3://bucket/key',
    ]) {
      expect(() => parseAzureUri(bad, { env: {} }), bad).toThrow(UnsupportedUriError);
    }
  });

  test('the https scheme is only claimed for Azure hosts and loopback emulators', () => {
    expect(isAzureHttpsUri('https://acct.blob.core.windows.net/c/x')).toBe(true);
    expect(isAzureHttpsUri('https://127.0.0.1:10000/devstoreaccount1/c/x')).toBe(true);
    expect(isAzureHttpsUri('https://localhost:10000/devstoreaccount1/c/x')).toBe(true);
    expect(isAzureHttpsUri('https://example.com/c/x')).toBe(false);
    expect(isAzureHttpsUri('https://acct.blob.core.windows.net.evil.com/c/x')).toBe(false);
  });
});

describe('azure credentials', () => {
  const cs = 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net';
  test('first that applies: connection string, SAS, key, explicit credential, DefaultAzureCredential', () => {
    expect(
      chooseAzureCredential('acct', {
        env: { AZURE_STORAGE_CONNECTION_STRING: cs, AZURE_STORAGE_SAS_TOKEN: 'sv=1', AZURE_STORAGE_KEY: 'k' },
      }),
    ).toBe('connection-string');
    expect(chooseAzureCredential('acct', { env: { AZURE_STORAGE_SAS_TOKEN: '?sv=1', AZURE_STORAGE_KEY: 'k' } })).toBe(
      'sas',
    );
    expect(chooseAzureCredential('acct', { env: { AZURE_STORAGE_KEY: 'k' } })).toBe('account-key');
    expect(chooseAzureCredential('acct', { env: { AZURE_STORAGE_ACCOUNT_KEY: 'k' } })).toBe('account-key');
    expect(chooseAzureCredential('acct', { env: {}, credential: { getToken: async () => null } })).toBe(
      'token-credential',
    );
    expect(chooseAzureCredential('acct', { env: {} })).toBe('default-azure-credential');
  });

  test("another account's secrets never apply", () => {
    expect(chooseAzureCredential('other', { env: { AZURE_STORAGE_CONNECTION_STRING: cs } })).toBe(
      'default-azure-credential',
    );
    expect(chooseAzureCredential('other', { env: { AZURE_STORAGE_ACCOUNT: 'acct', AZURE_STORAGE_KEY: 'k' } })).toBe(
      'default-azure-credential',
    );
    expect(chooseAzureCredential('acct', { env: { AZURE_STORAGE_ACCOUNT: 'acct', AZURE_STORAGE_KEY: 'k' } })).toBe(
      'account-key',
    );
  });
});

describe.skipIf(skipRequested('azure'))('azure credentials against azurite', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  const roundTrip = async (store: AzureStore, uri: string): Promise<void> => {
    const data = randomBytes(100);
    await store.put(uri, data);
    expect(Buffer.from(await store.get(uri)).equals(data)).toBe(true);
  };

  test('connection string from AZURE_STORAGE_CONNECTION_STRING', async () => {
    const azure = await azureServer();
    process.env.AZURE_STORAGE_CONNECTION_STRING = azure.connectionString;
    await roundTrip(
      new AzureStore(),
      `adls://${azure.account}/${TEST_CONTAINER}/config-${randomBytes(4).toString('hex')}/cs`,
    );
  });

  test('account key from AZURE_STORAGE_KEY with the endpoint from MEMOCALL_AZURE_BLOB_ENDPOINT', async () => {
    const azure = await azureServer();
    delete process.env.AZURE_STORAGE_CONNECTION_STRING;
    process.env.AZURE_STORAGE_KEY = azure.accountKey;
    process.env.MEMOCALL_AZURE_BLOB_ENDPOINT = azure.blobEndpoint.replace(azure.account, '{account}');
    await roundTrip(
      new AzureStore(),
      `adls://${azure.account}/${TEST_CONTAINER}/config-${randomBytes(4).toString('hex')}/key`,
    );
  });

  test('SAS token from AZURE_STORAGE_SAS_TOKEN, on an azurite-style http URI', async () => {
    const azure = await azureServer();
    const {
      AccountSASPermissions,
      AccountSASResourceTypes,
      AccountSASServices,
      StorageSharedKeyCredential,
      generateAccountSASQueryParameters,
      SASProtocol,
    } = await import('@azure/storage-blob');
    const sas = generateAccountSASQueryParameters(
      {
        expiresOn: new Date(Date.now() + 3_600_000),
        permissions: AccountSASPermissions.parse('rwdlc'),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
        services: AccountSASServices.parse('b').toString(),
        protocol: SASProtocol.HttpsAndHttp,
      },
      new StorageSharedKeyCredential(azure.account, azure.accountKey),
    ).toString();
    delete process.env.AZURE_STORAGE_CONNECTION_STRING;
    delete process.env.AZURE_STORAGE_KEY;
    process.env.AZURE_STORAGE_SAS_TOKEN = `?${sas}`;
    await roundTrip(
      new AzureStore(),
      `${azure.blobEndpoint}/${TEST_CONTAINER}/config-${randomBytes(4).toString('hex')}/sas`,
    );
  });

  test('a child process reaches the server through the registry with azureChildEnv only', async () => {
    const azure = await azureServer();
    const uri = `adls://${azure.account}/${TEST_CONTAINER}/config-${randomBytes(4).toString('hex')}/child`;
    const script = `
      import ${JSON.stringify(join(PROJECT_ROOT, 'src/blobstore/cloud/cloud-stores.ts'))};
      import { lookupBlobStore } from ${JSON.stringify(join(PROJECT_ROOT, 'src/blobstore/registry.ts'))};
      const store = lookupBlobStore(${JSON.stringify(uri)});
      await store.put(${JSON.stringify(uri)}, new TextEncoder().encode('from a child'));
      process.stdout.write(new TextDecoder().decode(await store.get(${JSON.stringify(uri)})));`;
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('AZURE_') && !k.startsWith('MEMOCALL_AZURE')),
    );
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { cwd: PROJECT_ROOT, env: { ...clean, ...azureChildEnv(azure) }, timeout: 30_000 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      ),
    );
    expect(stdout).toBe('from a child');
  });

  test('a wrong key is a permanent failure: refused at once, not retried', async () => {
    const azure = await azureServer();
    const retries: unknown[] = [];
    const store = new AzureStore({
      env: {},
      endpoint: azure.blobEndpoint,
      accountKey: Buffer.from('not the key').toString('base64'),
      retry: { minDelayMs: 1_000, onRetry: (e) => retries.push(e) },
    });
    const error = await store
      .put(`adls://${azure.account}/${TEST_CONTAINER}/config/denied`, Uint8Array.of(1))
      .catch((e: unknown) => e);
    expect((error as { statusCode?: number }).statusCode).toBe(403);
    // onRetry reports every pause before a retry (RetryEvent.delayMs), so none means no wait.
    expect(retries).toEqual([]);
  });
});
