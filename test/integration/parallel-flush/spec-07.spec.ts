import { defineSpecs } from './harness.js'

defineSpecs(7, [10, 11, 1, 19, 9, 16, 20])
