import { defineSpecs } from './harness.js'

defineSpecs(5, [14, 11, 15, 7, 12, 7, 20])
