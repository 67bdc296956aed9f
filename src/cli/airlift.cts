#!/usr/bin/env node
/**
 * The `airlift` command. Sizes libuv's thread pool, where zlib and file reads run, to the
 * machine's cores before anything starts it (loading ES modules already does), then runs the
 * CLI. libuv's default is four threads: on two cores the pool's CPU-bound zlib work then only
 * takes turns with the archive workers' hashing (measured: loads ~3 % slower).
 */
import { availableParallelism } from 'node:os';

if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(Math.max(2, availableParallelism()));
void import('./main.js');
