import {
  registerArgumentPreparer,
  registerArgumentShipper,
  registerResultFinalizer,
  registerResultReceiver,
  registerResultValidator,
} from '../execute/value-hooks.js';
import { prepareFileArguments, shipFileArguments } from './argument-files.js';
import './file-codecs.js';
import { storedOutputsUnchanged } from './output-freshness.js';
import { finalizeResultFiles, receiveResultFiles } from './result-files.js';

// Importing this module makes file values work in arguments and results: their codecs and the
// runner hooks that hash, upload and point at files. src/setup.ts is the one module that imports it.
registerArgumentPreparer(prepareFileArguments);
registerArgumentShipper(shipFileArguments);
registerResultFinalizer(finalizeResultFiles);
registerResultReceiver(receiveResultFiles);
registerResultValidator(storedOutputsUnchanged);
