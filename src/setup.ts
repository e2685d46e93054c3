// The one place memocall wires its plug-ins into the layers below: file values (SrcFile,
// DestFile, Source) over execute's value hooks, and the cloud stores (s3://, adls://, Azure
// https://) in the blob store registry, registered lazily: no SDK loads until a URI needs it.
// Every program imports it once: the library (index.ts), the CLI, and the subprocess child.
import './files/register.js';
import './blobstore/cloud/cloud-stores.js';
