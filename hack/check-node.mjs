// npm scripts put node_modules/.bin first on PATH, so `node` here is the pinned Node 24
// (devDependency "node"). Fail loudly if an older one slipped in, instead of odd errors later.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(
    `procmgr needs Node >= 22 (pinned 24 in devDependencies) but is running on ${process.version}.\n` +
      'Run `npm install` first so node_modules/.bin/node exists, then use the npm scripts.',
  );
  process.exit(1);
}
