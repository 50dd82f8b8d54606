// `npm run demo`: placeholder until the campaign pipeline lands.
process.stdout.write('demo: not yet implemented\n');
